import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqliteStore, type Store } from '../../../control-plane/index.ts';
import { openPostgresStore } from '../../../control-plane/store/postgres-store.ts';
import type { AlertRow, AlertSeverity, AlertStatus, IncidentRow } from '../../../control-plane/store/index.ts';
import { cleanup, tempDir } from '../../helpers.ts';
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
  });
}
