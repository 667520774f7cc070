import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqliteStore, type Store } from '../../../control-plane/index.ts';
import { openPostgresStore } from '../../../control-plane/store/postgres-store.ts';
import type { AlertRow, AlertSeverity, AlertStatus, ArcStatus, AssetPageQuery, AssetRow, IncidentRow } from '../../../control-plane/store/index.ts';
import { createEnrollmentToken, enrollAgent } from '../../../control-plane/auth/enrollment.ts';
import type { MachineFacts } from '../../../protocol/index.ts';
import { systemClock } from '../../../lib/clock.ts';
import { cleanup, tempDir, TEST_FACTS } from '../../helpers.ts';
import { startTestPostgres } from '../../support/postgres.ts';

/**
 * The portal's list pages (issue 15: "filter, sort, paging"): one page of alerts or incidents and
 * the total, on both backends, with values built here (not read back from the code under test).
 */
const T0 = Date.UTC(2026, 5, 1);
const MIN = 60_000;
const postgres = await startTestPostgres();
after(() => postgres.pg?.stop());

const backends: Array<{ name: string; skip: string | undefined; open(): Promise<{ store: Store; done(): Promise<void> }> }> = [
  {
    name: 'sqlite', skip: undefined,
    async open() {
      const dir = tempDir();
      const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
      return { store, async done() { await store.close(); cleanup(dir); } };
    },
  },
  {
    name: 'postgres', skip: postgres.skip,
    async open() {
      const store = await openPostgresStore({ connectionString: await postgres.pg!.createDatabase() });
      return { store, done: () => store.close() };
    },
  },
];

const SEVERITIES: AlertSeverity[] = ['Informational', 'Low', 'Medium', 'High'];
const machineId = (m: string) => `/subscriptions/sub/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/${m}`;

/** Alert i: severity cycles, machine web-1 for even i else db_1 (an underscore: LIKE must not treat it as a wildcard). */
function alert(i: number, over: Partial<AlertRow> = {}): AlertRow {
  const id = `alert-${String(i).padStart(3, '0')}`;
  return {
    systemAlertId: id, dedupKey: id, alertType: 'VM_SshBruteForceFailed', ruleId: 'r1', agentId: 'a1',
    resourceId: machineId(i % 2 === 0 ? 'web-1' : 'db_1'), severity: SEVERITIES[i % 4]!, status: 'Active', count: i + 1,
    startTime: T0 + i * MIN, endTime: T0 + i * MIN, timeGenerated: T0 + i * MIN, updatedAt: T0 + i * MIN, latencyMs: null,
    properties: { alertDisplayName: `Alert ${String.fromCharCode(90 - (i % 26))}` }, ...over,
  };
}

for (const backend of backends) {
  describe(`portal page queries: ${backend.name}`, () => {
    const it = (name: string, fn: (s: Store) => Promise<void>) => test(name, { skip: backend.skip }, async () => {
      const { store, done } = await backend.open();
      try {
        await fn(store);
      } finally {
        await done();
      }
    });

    const seed = async (s: Store, n: number) => {
      for (let i = 0; i < n; i++) {
        const a = alert(i);
        await s.alerts.upsertAlert(a, 0);
        // MDE detects the odd ones (copies in MDE and M365D); the even ones are MDC's.
        const products = i % 2 ? ['MDE', 'M365D'] : ['MDC'];
        await s.alerts.insertAlertCopies(products.map((p) => ({ systemAlertId: a.systemAlertId, product: p, copyId: `${p}-${i}`, status: 'Active' as AlertStatus, updatedAt: T0 })));
      }
    };

    it('alerts: newest first by default, paged, with the total of all matches', async (s) => {
      await seed(s, 25);
      const p1 = await s.alerts.pageAlerts({ limit: 10, offset: 0 });
      assert.equal(p1.total, 25);
      assert.deepEqual(p1.rows.map((r) => r.systemAlertId), Array.from({ length: 10 }, (_, k) => alert(24 - k).systemAlertId));
      const p3 = await s.alerts.pageAlerts({ limit: 10, offset: 20 });
      assert.deepEqual(p3.rows.map((r) => r.systemAlertId), ['alert-004', 'alert-003', 'alert-002', 'alert-001', 'alert-000']);
      const asc = await s.alerts.pageAlerts({ limit: 3, offset: 0, dir: 'asc' });
      assert.deepEqual(asc.rows.map((r) => r.systemAlertId), ['alert-000', 'alert-001', 'alert-002']);
    });

    it('alerts: filters by severity, status, machine, time and product view combine', async (s) => {
      await seed(s, 25);
      await s.alerts.setAlertStatus('alert-003', 'Dismissed', T0);
      const high = await s.alerts.pageAlerts({ severity: ['High'], limit: 100, offset: 0 });
      assert.deepEqual(high.rows.map((r) => r.systemAlertId), ['alert-023', 'alert-019', 'alert-015', 'alert-011', 'alert-007', 'alert-003']);
      const highOpen = await s.alerts.pageAlerts({ severity: ['High', 'Medium'], status: ['Active'], limit: 100, offset: 0 });
      assert.equal(highOpen.total, 11, '12 High or Medium, one dismissed');
      const db = await s.alerts.pageAlerts({ machine: 'db_1', limit: 100, offset: 0 });
      assert.equal(db.total, 12);
      assert.ok(db.rows.every((r) => r.resourceId.endsWith('/machines/db_1')));
      assert.equal((await s.alerts.pageAlerts({ machine: 'db%1', limit: 100, offset: 0 })).total, 0, 'no wildcard from input');
      assert.equal((await s.alerts.pageAlerts({ machine: 'db', limit: 100, offset: 0 })).total, 0, 'the whole name, not a prefix');
      const window = await s.alerts.pageAlerts({ from: T0 + 5 * MIN, to: T0 + 7 * MIN, limit: 100, offset: 0 });
      assert.deepEqual(window.rows.map((r) => r.systemAlertId), ['alert-007', 'alert-006', 'alert-005']);
      const m365 = await s.alerts.pageAlerts({ product: 'M365D', limit: 100, offset: 0 });
      assert.equal(m365.total, 12);
      assert.equal(m365.rows[0]!.viewId, 'M365D-23');
      assert.equal(m365.rows[0]!.viewStatus, 'Active');
    });

    it('alerts: with a product, status is that product\'s copy status', async (s) => {
      await seed(s, 4);
      await s.alerts.setCopyStatus('alert-001', 'M365D', 'Dismissed', T0);
      const dismissedInM365 = await s.alerts.pageAlerts({ product: 'M365D', status: ['Dismissed'], limit: 10, offset: 0 });
      assert.deepEqual(dismissedInM365.rows.map((r) => [r.systemAlertId, r.status, r.viewStatus]), [['alert-001', 'Active', 'Dismissed']]);
      assert.equal((await s.alerts.pageAlerts({ product: 'MDE', status: ['Dismissed'], limit: 10, offset: 0 })).total, 0);
    });

    it('alerts: sort by severity, name and count', async (s) => {
      await seed(s, 8);
      const bySeverity = await s.alerts.pageAlerts({ sort: 'severity', limit: 8, offset: 0 });
      assert.deepEqual(bySeverity.rows.map((r) => r.severity), ['High', 'High', 'Medium', 'Medium', 'Low', 'Low', 'Informational', 'Informational']);
      const byName = await s.alerts.pageAlerts({ sort: 'name', dir: 'asc', limit: 3, offset: 0 });
      assert.deepEqual(byName.rows.map((r) => r.properties.alertDisplayName), ['Alert S', 'Alert T', 'Alert U']);
      const byCount = await s.alerts.pageAlerts({ sort: 'count', limit: 2, offset: 0 });
      assert.deepEqual(byCount.rows.map((r) => r.count), [8, 7]);
    });

    it('incidents: newest first, redirected ones hidden, filters and alert counts', async (s) => {
      const inc = (id: string, createdAt: number, over: Partial<IncidentRow> = {}): IncidentRow => ({
        incidentId: id, title: id, severity: 'Low', status: 'Active', sentinelStatus: null, createdAt, updatedAt: createdAt,
        firstActivity: createdAt, lastActivity: createdAt, redirectedTo: null, ...over,
      });
      await s.alerts.upsertAlert(alert(0), 0);
      await s.alerts.upsertAlert(alert(1), 0);
      await s.incidents.insertIncident(inc('i1', T0, { severity: 'High' }));
      await s.incidents.insertIncident(inc('i2', T0 + MIN, { status: 'Resolved' }));
      await s.incidents.insertIncident(inc('i3', T0 + 2 * MIN, { redirectedTo: 'i1', status: 'Resolved' }));
      await s.incidents.addIncidentAlert('i1', 'alert-000', T0);
      await s.incidents.addIncidentAlert('i1', 'alert-001', T0);
      const all = await s.incidents.pageIncidents({ limit: 10, offset: 0 });
      assert.deepEqual(all.rows.map((r) => [r.incidentId, r.alertCount]), [['i2', 0], ['i1', 2]]);
      assert.equal(all.total, 2);
      assert.equal((await s.incidents.pageIncidents({ redirected: true, limit: 10, offset: 0 })).total, 3);
      assert.deepEqual((await s.incidents.pageIncidents({ status: ['Active'], limit: 10, offset: 0 })).rows.map((r) => r.incidentId), ['i1']);
      assert.deepEqual((await s.incidents.pageIncidents({ sort: 'severity', limit: 1, offset: 0 })).rows.map((r) => r.incidentId), ['i1']);
    });

    it('live feed: new alerts and every status change after the cursor, and a cursor past them', async (s) => {
      await seed(s, 2);
      const start = await s.portal.liveCursor();
      assert.deepEqual((await s.portal.liveChanges(start, 100)).changes, []);
      await s.alerts.upsertAlert(alert(5), 0);
      await s.alerts.setAlertStatus('alert-005', 'Dismissed', T0 + 5);
      await s.settings.addSyncAudit({ at: T0 + 5, subject: 'alert', subjectId: 'alert-005', product: 'MDC', fromStatus: 'Active', toStatus: 'Dismissed', originProduct: 'MDC', viaProduct: null, reason: 'r' });
      const { changes, cursor } = await s.portal.liveChanges(start, 100);
      assert.deepEqual(changes.map((c) => [c.source, c.subject, c.subjectId, c.product ?? null, c.status]), [
        ['alert', 'alert', 'alert-005', null, 'Active'],
        ['status', 'alert', 'alert-005', 'MDC', 'Dismissed'],
      ]);
      assert.deepEqual((await s.portal.liveChanges(cursor, 100)).changes, [], 'the cursor moved past the outbox\'s status row too');
      assert.deepEqual(cursor, await s.portal.liveCursor());
    });

    it('saved queries: per key name, replaced by name, deleted', async (s) => {
      await s.portal.saveQuery({ owner: 'alice', name: 'logons', query: 'DeviceLogonEvents | take 10', createdAt: T0, updatedAt: T0 });
      await s.portal.saveQuery({ owner: 'alice', name: 'logons', query: 'DeviceLogonEvents | take 5', createdAt: T0 + 1, updatedAt: T0 + 1 });
      await s.portal.saveQuery({ owner: 'bob', name: 'procs', query: 'DeviceProcessEvents', createdAt: T0, updatedAt: T0 });
      assert.deepEqual(await s.portal.listQueries('alice'), [{ owner: 'alice', name: 'logons', query: 'DeviceLogonEvents | take 5', createdAt: T0, updatedAt: T0 + 1 }]);
      assert.equal((await s.portal.listQueries('bob')).length, 1);
      assert.equal(await s.portal.deleteQuery('alice', 'procs'), false, 'bob\'s query is not alice\'s');
      assert.equal(await s.portal.deleteQuery('alice', 'logons'), true);
      assert.deepEqual(await s.portal.listQueries('alice'), []);
    });

    /**
     * The inventory fixture: four Arc machines (two on-premises, one AWS and one GCP, each of the
     * cloud ones merged with its connector's instance) and three CSPM-only resources, one deleted.
     */
    const seedInventory = async (s: Store) => {
      const token = await createEnrollmentToken(s, { subscription: 'sub', resourceGroup: 'rg' }, systemClock);
      const machine = async (name: string, provider: string, status: ArcStatus) => {
        const { agentId } = await enrollAgent(s, token.token, name, systemClock);
        await s.machines.upsertMachine({
          agentId, resourceId: machineId(name), name, facts: { ...TEST_FACTS, hostname: name, cloudMetadata: { provider } } as MachineFacts,
          sqlInstances: [], extensions: [], status, lastHeartbeat: T0, lastStatusChange: T0, registeredAt: T0,
        });
      };
      await machine('web-01', 'N/A', 'Connected');
      await machine('web-02', 'N/A', 'Disconnected');
      await machine('App-03', 'AWS', 'Connected');
      await machine('db_04', 'GCP', 'Expired');
      for (const [name, provider] of [['aws-1', 'AWS'], ['gcp-1', 'GCP']] as const) {
        await s.inventory.upsertConnector({ name, provider, accountId: '1', subscription: 'sub', resourceGroup: 'rg', location: 'eastus', config: {}, createdAt: T0, updatedAt: T0 });
      }
      const resource = async (connector: string, name: string, deletedAt: number | null = null) => s.inventory.upsertCspmResource({
        connector, kind: connector === 'aws-1' ? 'aws-ec2-instance' : 'gcp-compute-instance', nativeId: name, resourceId: `cspm:${connector}/${name}`, name,
        region: 'r', state: 'running', data: {}, firstSeen: T0, lastSeen: T0, deletedAt,
      });
      await resource('aws-1', 'ec2-app-03');
      await resource('gcp-1', 'gce-db-04');
      await resource('aws-1', 'ec2-batch-05');
      await resource('aws-1', 'ec2-old-06', T0);
      await resource('gcp-1', 'gce-web-07');
      const asset = (n: number, confidence: AssetRow['confidence'], sources: AssetRow['sources']): AssetRow =>
        ({ assetId: `asset-${n}`, assetKey: `key-${n}`, confidence, conflicts: [], reasons: [], updatedAt: T0, sources });
      const arc = (name: string) => ({ kind: 'arc' as const, id: machineId(name) });
      const cspm = (connector: string, name: string) => ({ kind: 'cspm' as const, id: `cspm:${connector}/${name}` });
      await s.inventory.replaceAssets([
        asset(1, 'single', [arc('web-01')]), asset(2, 'single', [arc('web-02')]),
        asset(3, 'strong', [arc('App-03'), cspm('aws-1', 'ec2-app-03')]), asset(4, 'probable', [arc('db_04'), cspm('gcp-1', 'gce-db-04')]),
        asset(5, 'single', [cspm('aws-1', 'ec2-batch-05')]), asset(6, 'single', [cspm('aws-1', 'ec2-old-06')]), asset(7, 'single', [cspm('gcp-1', 'gce-web-07')]),
      ]);
    };
    // An asset is named after its live CSPM resource, else its machine, else any resource: these are the seven names.
    const NAME = { 'asset-1': 'web-01', 'asset-2': 'web-02', 'asset-3': 'ec2-app-03', 'asset-4': 'gce-db-04', 'asset-5': 'ec2-batch-05', 'asset-6': 'ec2-old-06', 'asset-7': 'gce-web-07' } as Record<string, string>;
    const names = async (s: Store, q: Partial<AssetPageQuery>) => {
      const p = await s.inventory.pageAssets({ sort: 'name', dir: 'asc', offset: 0, limit: 50, ...q });
      return { names: p.rows.map((a) => NAME[a.assetId]), total: p.total, all: p.all };
    };

    it('inventory: one page of the merged assets in SQL, filtered, searched and sorted as the page shows them, with the totals', async (s) => {
      await seedInventory(s);
      assert.deepEqual(await names(s, { limit: 3 }), { names: ['ec2-app-03', 'ec2-batch-05', 'ec2-old-06'], total: 7, all: 7 });
      assert.deepEqual(await names(s, { limit: 3, offset: 6 }), { names: ['web-02'], total: 7, all: 7 });
      assert.deepEqual((await names(s, { source: 'GCP' })).names, ['gce-db-04', 'gce-web-07']);
      assert.deepEqual((await names(s, { source: 'Arc' })), { names: ['ec2-app-03', 'gce-db-04', 'web-01', 'web-02'], total: 4, all: 7 });
      assert.deepEqual((await names(s, { cloud: 'On-premises' })).names, ['web-01', 'web-02']);
      assert.deepEqual((await names(s, { arcStatus: 'none' })).names, ['ec2-batch-05', 'ec2-old-06', 'gce-web-07']);
      assert.deepEqual((await names(s, { arcStatus: 'Expired' })).names, ['gce-db-04']);
      assert.deepEqual((await names(s, { confidence: 'strong' })).names, ['ec2-app-03']);
      assert.deepEqual((await names(s, { search: 'APP-03' })).names, ['ec2-app-03'], 'case-insensitive, in a source\'s name');
      assert.deepEqual((await names(s, { search: '_0' })).names, ['gce-db-04'], 'an underscore is itself, not a LIKE wildcard');
      assert.deepEqual((await names(s, { search: 'microsoft.hybridcompute/machines/web-02' })).names, ['web-02'], 'in a source\'s resource id');
      assert.deepEqual((await names(s, { source: 'AWS', arcStatus: 'none', search: 'ec2' })), { names: ['ec2-batch-05', 'ec2-old-06'], total: 2, all: 7 });
      // Sorts: the key, then the name in the same direction.
      assert.deepEqual((await names(s, { sort: 'confidence', dir: 'desc' })).names, ['ec2-app-03', 'gce-db-04', 'web-02', 'web-01', 'gce-web-07', 'ec2-old-06', 'ec2-batch-05']);
      assert.deepEqual((await names(s, { sort: 'sources', dir: 'desc' })).names, ['gce-db-04', 'ec2-app-03', 'web-02', 'web-01', 'gce-web-07', 'ec2-old-06', 'ec2-batch-05']);
      assert.deepEqual((await names(s, { sort: 'arcStatus' })).names, ['ec2-batch-05', 'ec2-old-06', 'gce-web-07', 'ec2-app-03', 'web-01', 'web-02', 'gce-db-04']);
      assert.deepEqual((await names(s, { sort: 'cloud' })).names, ['ec2-app-03', 'ec2-batch-05', 'ec2-old-06', 'gce-db-04', 'gce-web-07', 'web-01', 'web-02']);
      assert.deepEqual((await names(s, { sort: 'name', dir: 'desc', limit: 2 })).names, ['web-02', 'web-01']);
      const page = await s.inventory.pageAssets({ sort: 'name', dir: 'asc', offset: 0, limit: 1 });
      assert.deepEqual(page.rows[0]!.sources, [{ kind: 'arc', id: machineId('App-03') }, { kind: 'cspm', id: 'cspm:aws-1/ec2-app-03' }], 'a row is the stored asset with its sources');
    });

    it('test runs: one page newest first (ties by id) and how many are stored', async (s) => {
      const run = (id: string, startedAt: number) => s.runs.insertTestRun({
        runId: id, suiteName: 'suite', startedAt, finishedAt: startedAt + 1, ok: true, summary: { cells: 1, pass: 1 }, suite: {}, result: {}, cells: [],
      });
      for (const [id, at] of [['run-a', 1], ['run-b', 3], ['run-c', 2], ['run-d', 3], ['run-e', 5]] as const) await run(id, T0 + at * MIN);
      const ids = async (offset: number, limit: number) => {
        const p = await s.runs.pageTestRuns({ offset, limit });
        return [p.rows.map((r) => r.runId), p.total];
      };
      assert.deepEqual(await ids(0, 2), [['run-e', 'run-b'], 5]);
      assert.deepEqual(await ids(2, 2), [['run-d', 'run-c'], 5]);
      assert.deepEqual(await ids(4, 2), [['run-a'], 5]);
      assert.deepEqual(await ids(6, 2), [[], 5]);
    });

    it('recommendations: assessment counts grouped in SQL and a window of each one\'s unhealthy resources', async (s) => {
      const put = (key: string, sub: string, n: number, status: 'Healthy' | 'Unhealthy', notApplicable = false) => s.inventory.upsertAssessment({
        assessmentKey: key, resourceId: `/subscriptions/${sub}/vm-${String(n).padStart(2, '0')}`, subscription: sub, status,
        details: notApplicable ? { notApplicable: true } : {}, firstSeen: T0, statusChanged: T0 + n,
      });
      for (let n = 0; n < 7; n++) await put('k1', 'sub-a', n, n < 5 ? 'Unhealthy' : 'Healthy');
      await put('k1', 'sub-a', 7, 'Healthy', true);
      await put('k1', 'sub-b', 0, 'Unhealthy');
      await put('k2', 'sub-a', 0, 'Healthy');
      const counts = (await s.inventory.assessmentCounts()).map((c) => [c.assessmentKey, c.subscription, c.status, c.notApplicable, c.count]);
      assert.deepEqual(counts, [
        ['k1', 'sub-a', 'Healthy', false, 2], ['k1', 'sub-a', 'Healthy', true, 1], ['k1', 'sub-a', 'Unhealthy', false, 5],
        ['k1', 'sub-b', 'Unhealthy', false, 1], ['k2', 'sub-a', 'Healthy', false, 1],
      ]);
      const window = async (keys: string[], offset: number, limit: number) =>
        (await s.inventory.unhealthyAssessments(keys, { offset, limit })).map((a) => `${a.assessmentKey} ${a.resourceId.split('/').slice(2).join('/')}`);
      assert.deepEqual(await window(['k1', 'k2'], 0, 3), ['k1 sub-a/vm-00', 'k1 sub-a/vm-01', 'k1 sub-a/vm-02']);
      assert.deepEqual(await window(['k1'], 3, 3), ['k1 sub-a/vm-03', 'k1 sub-a/vm-04', 'k1 sub-b/vm-00']);
      assert.deepEqual(await window(['k2'], 0, 3), [], 'no unhealthy resource');
    });
  });
}
