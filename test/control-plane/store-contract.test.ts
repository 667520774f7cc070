import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { openSqliteStore, type Store } from '../../control-plane/index.ts';
import { openPostgresStore } from '../../control-plane/store/postgres-store.ts';
import type {
  AgentRow, AlertRow, ArcStatus, AlertSourceRow, AssessmentRow, AssetRow, ConnectorRow, CspmResourceRow, IncidentRow, MachineRow, TestRunRow, TokenRow,
} from '../../control-plane/store/index.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { silenceBounds, statusAfterSilence } from '../../control-plane/inventory/arc-status.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { v7 as uuidv7 } from 'uuid';
import { cleanup, MIGRATION_VERSIONS, tempDir, TEST_FACTS } from '../helpers.ts';
import { startTestPostgres } from '../support/postgres.ts';

/**
 * One contract, every backend: the same calls and the same expected results (values and order)
 * against a SQLite file and a PostgreSQL database, so the two stores cannot drift apart.
 */
const ssh = loadLibrary().get('ssh-brute-force-failed')!;
const T0 = Date.UTC(2026, 5, 1);
const MIN = 60_000;
const DAY = 86_400_000;

const postgres = await startTestPostgres();
after(() => postgres.pg?.stop());

/** The shipped migrations of a dialect below `version`, as the runner would apply them. */
function migrationsBefore(dialect: 'sqlite' | 'postgres', version: number): Array<{ version: number; name: string; sql: string }> {
  const dir = join(import.meta.dirname, '..', '..', 'control-plane', 'store', 'migrations', dialect);
  return readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()
    .map((f) => ({ version: Number(f.split('_')[0]), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .filter((m) => m.version < version);
}

type Backend = {
  name: string; skip: string | undefined;
  open(): Promise<{ store: Store; done(): Promise<void> }>;
  /** A database migrated only below `version`, with `setup` run on it as raw SQL statements; then opened (migrating the rest) as a store. */
  openFrom(version: number, setup: string[]): Promise<{ store: Store; done(): Promise<void> }>;
};

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: undefined,
    async open() {
      const dir = tempDir();
      const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
      return { store, async done() { await store.close(); cleanup(dir); } };
    },
    async openFrom(version, setup) {
      const dir = tempDir();
      const file = join(dir, 'arcsim.db');
      const db = new Database(file);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      for (const m of migrationsBefore('sqlite', version)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, T0);
      }
      for (const statement of setup) db.exec(statement);
      db.close();
      const store = openSqliteStore({ file });
      return { store, async done() { await store.close(); cleanup(dir); } };
    },
  },
  {
    name: 'postgres',
    skip: postgres.skip,
    async open() {
      const store = await openPostgresStore({ connectionString: await postgres.pg!.createDatabase() });
      return { store, done: () => store.close() };
    },
    async openFrom(version, setup) {
      const connectionString = await postgres.pg!.createDatabase();
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
        for (const m of migrationsBefore('postgres', version)) {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [m.version, m.name, T0]);
        }
        for (const statement of setup) await client.query(statement);
      } finally {
        await client.end();
      }
      const store = await openPostgresStore({ connectionString });
      return { store, done: () => store.close() };
    },
  },
];

function token(id: string, over: Partial<TokenRow> = {}): TokenRow {
  return { id, tokenHash: `hash-${id}`, subscription: 'sub', resourceGroup: 'rg', location: 'eastus', createdAt: T0, expiresAt: T0 + 86_400_000, revokedAt: null, uses: 0, maxUses: null, ...over };
}

function agent(agentId: string, tokenId: string): AgentRow {
  return { agentId, keyHash: `key-${agentId}`, tokenId, subscription: 'sub', resourceGroup: 'rg', location: 'eastus', hostname: agentId, enrolledAt: T0, revokedAt: null, revokedReason: null, pendingKeyHash: null };
}

function machine(agentId: string, name: string, over: Partial<MachineRow> = {}): MachineRow {
  return {
    agentId, name, resourceId: `/subscriptions/sub/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/${name}`,
    facts: { ...TEST_FACTS, hostname: name }, sqlInstances: [], extensions: [{ name: 'MDE.Linux', status: 'Succeeded' }],
    status: 'Connected', lastHeartbeat: T0, lastStatusChange: T0, registeredAt: T0, ...over,
  };
}

function alert(id: string, over: Partial<AlertRow> = {}): AlertRow {
  return {
    systemAlertId: id, dedupKey: 'key-1', alertType: 'VM_SshBruteForceFailed', ruleId: 'r1', agentId: 'a1', resourceId: '/machines/m1',
    severity: 'Medium', status: 'Active', count: 1, startTime: T0, endTime: T0 + MIN, timeGenerated: T0 + MIN, updatedAt: T0 + MIN,
    latencyMs: 1.234, properties: { alertDisplayName: 'Failed SSH brute force attack', intent: 'Probing', entities: [{ $id: '1', type: 'host', hostName: 'h' }], z: 1, a: [2, { y: null }] },
    ...over,
  };
}

function incident(id: string, createdAt: number, over: Partial<IncidentRow> = {}): IncidentRow {
  return {
    incidentId: id, title: id, severity: 'Low', status: 'Active', sentinelStatus: null, createdAt, updatedAt: createdAt,
    firstActivity: createdAt, lastActivity: createdAt, redirectedTo: null,
    // Graph's defaults for a new incident: not classified, no owner (migration 024).
    classification: 'unknown', determination: 'unknown', assignedTo: null, ...over,
  };
}

function connector(name: string, over: Partial<ConnectorRow> = {}): ConnectorRow {
  return {
    name, provider: 'AWS', accountId: '123456789012', subscription: 'sub', resourceGroup: 'rg', location: 'eastus',
    config: { z: 1, regions: ['us-east-1'], a: { b: null } }, createdAt: T0, updatedAt: T0, ...over,
  };
}

function resource(connectorName: string, kind: string, nativeId: string, over: Partial<CspmResourceRow> = {}): CspmResourceRow {
  return {
    connector: connectorName, kind, nativeId, resourceId: `/cspm/${connectorName}/${kind}/${nativeId}`, name: `name-${nativeId}`, region: 'us-east-1',
    state: 'running', data: { privateIp: '10.0.0.4', tags: { Name: nativeId }, z: [1, 2] }, firstSeen: T0, lastSeen: T0, deletedAt: null, ...over,
  };
}

function asset(key: string, sources: AssetRow['sources'], over: Partial<AssetRow> = {}): AssetRow {
  return { assetId: `asset-${key}`, assetKey: key, confidence: 'single', conflicts: [], reasons: [], updatedAt: T0, sources, ...over };
}

function testRun(runId: string, startedAt: number, cells: TestRunRow['cells'], over: Partial<TestRunRow> = {}): TestRunRow {
  return {
    runId, suiteName: 'multi-cloud', startedAt, finishedAt: startedAt + MIN, ok: cells.every((c) => c.status === 'pass'),
    summary: { passed: cells.filter((c) => c.status === 'pass').length, failed: cells.filter((c) => c.status === 'fail').length },
    suite: { name: 'multi-cloud', rows: [{ id: 'ssh', scenario: { z: 1, a: null } }] }, result: { cells: cells.map((c) => c.cellId), notes: [] },
    cells, ...over,
  };
}

for (const backend of backends) {
  describe(`store contract: ${backend.name}`, () => {
    // Skip each test (not just the suite) so the runner's summary counts what did not run.
    const it = (name: string, fn: () => Promise<void>) => test(name, { skip: backend.skip }, fn);
    const withStore = (fn: (s: Store) => Promise<void>) => async () => {
      const { store, done } = await backend.open();
      try {
        await fn(store);
      } finally {
        await done();
      }
    };

    it('migrations: every shipped version applied, in order', withStore(async (s) => {
      assert.equal(s.kind, backend.name);
      assert.deepEqual(await s.migrations(), MIGRATION_VERSIONS);
    }));

    it('events are keyed by ReportId: a redelivery stores nothing and returns nothing', withStore(async (s) => {
      const events = planEvents(ssh, { detonationId: 'd1', device: { id: 'a1', name: 'h1' }, startTime: T0, seed: 1 }).map((p) => p.event);
      const fresh = await s.events.insertEvents('a1', events.slice(0, 6), T0);
      assert.deepEqual(fresh, events.slice(0, 6));
      // Overlapping batch, with one event repeated inside it: only the four new ones, in batch order, once.
      const again = await s.events.insertEvents('a1', [...events.slice(4), events[9]!], T0);
      assert.deepEqual(again.map((e) => e.ReportId), events.slice(6).map((e) => e.ReportId));
      assert.deepEqual(await s.events.insertEvents('a1', events, T0), []);
      assert.equal(await s.events.countEvents(), 10);
      assert.equal(await s.events.countEvents({ detonationId: 'd1' }), 10);
      assert.equal(await s.events.countEvents({ agentId: 'a2' }), 0);
      const listed = await s.events.listEvents({ detonationId: 'd1' });
      // Same objects back, keys in the order they were written.
      assert.equal(JSON.stringify(listed), JSON.stringify([...events].sort((a, b) => Date.parse(a.Timestamp) - Date.parse(b.Timestamp) || (a.ReportId < b.ReportId ? -1 : 1))));
      assert.equal((await s.events.listEvents({ agentId: 'a1', limit: 3 })).length, 3);
      // By ReportId, in the order asked, unknown ids left out.
      const picked = await s.events.getEvents([events[3]!.ReportId, 'no-such-id', events[1]!.ReportId]);
      assert.equal(JSON.stringify(picked), JSON.stringify([events[3], events[1]]));
    }));

    it('scanEvents (KQL pushdown): one table, inclusive time bounds, device / action equality, case-insensitive contains, newest first, limit', withStore(async (s) => {
      const ev = (i: number, table: string, device: string, fields: Record<string, unknown>) => ({
        Table: table, Timestamp: new Date(T0 + i * MIN).toISOString(), DeviceId: device, DeviceName: `host-${device}`,
        ReportId: `0190a0b0-0000-7000-8000-${String(i).padStart(12, '0')}`, ...fields,
      }) as unknown as SensorEvent;
      await s.events.insertEvents('a1', [
        ev(1, 'DeviceProcessEvents', 'a1', { ActionType: 'ProcessCreated', ProcessCommandLine: 'PowerShell.exe -enc AAA' }),
        ev(2, 'DeviceProcessEvents', 'a1', { ActionType: 'ProcessCreated', ProcessCommandLine: 'cmd /c 100%_done' }),
        ev(3, 'DeviceNetworkEvents', 'a1', { ActionType: 'ConnectionSuccess', RemoteIP: '10.0.0.1' }),
      ], T0);
      await s.events.insertEvents('a2', [ev(4, 'DeviceProcessEvents', 'a2', { ActionType: 'ProcessCreated', ProcessCommandLine: 'powershell -nop' })], T0);
      const ids = (list: SensorEvent[]) => list.map((e) => Number(e.ReportId.slice(-3)));
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', limit: 10 })), [4, 2, 1]);
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', from: T0 + 2 * MIN, to: T0 + 4 * MIN, limit: 10 })), [4, 2], 'both bounds inclusive');
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', equals: [{ column: 'DeviceId', values: ['a2'] }], limit: 10 })), [4]);
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', equals: [{ column: 'DeviceName', values: ['host-a1', 'nope'] }, { column: 'ActionType', values: ['ProcessCreated'] }], limit: 10 })), [2, 1]);
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', contains: [{ column: 'ProcessCommandLine', text: 'POWERSHELL' }], limit: 10 })), [4, 1]);
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', contains: [{ column: 'ProcessCommandLine', text: '0%_' }], limit: 10 })), [2], 'LIKE wildcards in the text are literal');
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', contains: [{ column: 'ProcessCommandLine', text: '1_0' }], limit: 10 })), []);
      assert.deepEqual(ids(await s.events.scanEvents({ table: 'DeviceProcessEvents', limit: 2 })), [4, 2], 'the limit keeps the newest');
    }));

    it('deviceTimeline (portal): one agent, newest first, table / action type / time filters, keyset pages that neither overlap nor skip', withStore(async (s) => {
      const ev = (i: number, table: string, device: string, action: string, at = T0 + i * MIN) => ({
        Table: table, Timestamp: new Date(at).toISOString(), DeviceId: device, DeviceName: `host-${device}`, ActionType: action,
        ReportId: `0190a0b0-0000-7000-8000-${String(i).padStart(12, '0')}`,
      }) as unknown as SensorEvent;
      // 5 and 6 share a timestamp: the ReportId orders them (6 first, descending).
      await s.events.insertEvents('a1', [
        ev(1, 'DeviceProcessEvents', 'a1', 'ProcessCreated'), ev(2, 'DeviceNetworkEvents', 'a1', 'ConnectionSuccess'),
        ev(3, 'DeviceProcessEvents', 'a1', 'ProcessCreated'), ev(4, 'DeviceLogonEvents', 'a1', 'LogonFailed'),
        ev(5, 'DeviceProcessEvents', 'a1', 'ProcessCreated', T0 + 5 * MIN), ev(6, 'DeviceFileEvents', 'a1', 'FileCreated', T0 + 5 * MIN),
      ], T0);
      await s.events.insertEvents('a2', [ev(7, 'DeviceProcessEvents', 'a2', 'ProcessCreated')], T0);
      const ids = (list: SensorEvent[]) => list.map((e) => Number(e.ReportId.slice(-3)));
      assert.deepEqual(ids(await s.events.deviceTimeline({ agentId: 'a1', limit: 10 })), [6, 5, 4, 3, 2, 1]);
      assert.deepEqual(ids(await s.events.deviceTimeline({ agentId: 'a1', table: 'DeviceProcessEvents', limit: 10 })), [5, 3, 1]);
      assert.deepEqual(ids(await s.events.deviceTimeline({ agentId: 'a1', actionType: 'LogonFailed', limit: 10 })), [4]);
      assert.deepEqual(ids(await s.events.deviceTimeline({ agentId: 'a1', from: T0 + 2 * MIN, to: T0 + 4 * MIN, limit: 10 })), [4, 3, 2], 'both bounds inclusive');
      const first = await s.events.deviceTimeline({ agentId: 'a1', limit: 2 });
      assert.deepEqual(ids(first), [6, 5]);
      const last = first.at(-1)!;
      const second = await s.events.deviceTimeline({ agentId: 'a1', limit: 2, before: { ts: Date.parse(last.Timestamp), reportId: last.ReportId } });
      assert.deepEqual(ids(second), [4, 3], 'the page after 5 starts at 4, though 5 and 6 share a time');
      assert.deepEqual(ids(await s.events.deviceTimeline({ agentId: 'a2', limit: 10 })), [7]);
    }));

    it('pageAlerts / alertCounts / alertCountsOverTime (portal): filters, sorts, offset paging with the total, counts by severity, status and day', withStore(async (s) => {
      const add = (id: string, over: Partial<AlertRow>) => s.alerts.upsertAlert(alert(id, { dedupKey: `k-${id}`, ...over }), 0);
      await add('A1', { severity: 'High', status: 'Active', endTime: T0 + 1 * MIN, timeGenerated: T0, count: 3, properties: { alertDisplayName: 'Bravo', compromisedEntity: 'web-01' } });
      await add('A2', { severity: 'Low', status: 'Dismissed', endTime: T0 + 2 * MIN, timeGenerated: T0 + DAY, count: 1, properties: { alertDisplayName: 'alpha 100%', compromisedEntity: 'db-01' } });
      await add('A3', { severity: 'Medium', status: 'Active', endTime: T0 + 3 * MIN, timeGenerated: T0 + DAY + MIN, count: 2, resourceId: '/machines/m2', properties: { alertDisplayName: 'Charlie', compromisedEntity: 'web-02' } });
      await s.alerts.insertAlertCopies([{ systemAlertId: 'A3', product: 'MDE', copyId: 'da3', status: 'Active', updatedAt: T0 }]);
      const page = (q: Partial<Parameters<Store['alerts']['pageAlerts']>[0]>) => s.alerts.pageAlerts({ sort: 'time', dir: 'desc', offset: 0, limit: 10, ...q })
        .then((r) => ({ ids: r.rows.map((a) => a.systemAlertId), total: r.total }));
      assert.deepEqual(await page({}), { ids: ['A3', 'A2', 'A1'], total: 3 });
      assert.deepEqual(await page({ sort: 'severity' }), { ids: ['A1', 'A3', 'A2'], total: 3 }, 'High, Medium, Low');
      assert.deepEqual(await page({ sort: 'name', dir: 'asc' }), { ids: ['A1', 'A3', 'A2'], total: 3 }, 'by display name (ASCII order)');
      assert.deepEqual(await page({ sort: 'count', dir: 'asc' }), { ids: ['A2', 'A3', 'A1'], total: 3 });
      assert.deepEqual(await page({ status: 'Active' }), { ids: ['A3', 'A1'], total: 2 });
      assert.deepEqual(await page({ product: 'MDE' }), { ids: ['A3'], total: 1 });
      assert.deepEqual(await page({ resourceId: '/machines/m2' }), { ids: ['A3'], total: 1 });
      assert.deepEqual(await page({ from: T0 + 2 * MIN, to: T0 + 3 * MIN }), { ids: ['A3', 'A2'], total: 2 }, 'by last activity, bounds inclusive');
      assert.deepEqual(await page({ search: 'WEB-0' }), { ids: ['A3', 'A1'], total: 2 }, 'entity, ignoring case');
      assert.deepEqual(await page({ search: '0%' }), { ids: ['A2'], total: 1 }, 'wildcards are literal');
      assert.deepEqual(await page({ limit: 1, offset: 1 }), { ids: ['A2'], total: 3 }, 'a page of one, the total of all');
      const counts = (await s.alerts.alertCounts()).sort((a, b) => a.severity.localeCompare(b.severity));
      assert.deepEqual(counts, [{ severity: 'High', status: 'Active', count: 1 }, { severity: 'Low', status: 'Dismissed', count: 1 }, { severity: 'Medium', status: 'Active', count: 1 }]);
      assert.deepEqual(await s.alerts.alertCounts(['/machines/m2']), [{ severity: 'Medium', status: 'Active', count: 1 }]);
      const days = (await s.alerts.alertCountsOverTime(T0, DAY)).sort((a, b) => a.bucket - b.bucket || a.severity.localeCompare(b.severity));
      assert.deepEqual(days, [
        { bucket: T0, severity: 'High', count: 1 }, { bucket: T0 + DAY, severity: 'Low', count: 1 }, { bucket: T0 + DAY, severity: 'Medium', count: 1 },
      ]);
      assert.deepEqual(await s.alerts.alertCountsOverTime(T0 + DAY, DAY).then((d) => d.map((x) => x.count).reduce((a, b) => a + b, 0)), 2, 'alerts before `from` are left out');
    }));

    it('recentIncidents (portal): latest activity first, redirected ones left out, at most the limit', withStore(async (s) => {
      await s.incidents.insertIncident(incident('I1', T0, { lastActivity: T0 + 3 * MIN }));
      await s.incidents.insertIncident(incident('I2', T0, { lastActivity: T0 + 5 * MIN }));
      await s.incidents.insertIncident(incident('I3', T0, { lastActivity: T0 + 9 * MIN, redirectedTo: 'I2' }));
      await s.incidents.insertIncident(incident('I4', T0, { lastActivity: T0 + 1 * MIN }));
      assert.deepEqual((await s.incidents.recentIncidents(10)).map((i) => i.incidentId), ['I2', 'I1', 'I4']);
      assert.deepEqual((await s.incidents.recentIncidents(2)).map((i) => i.incidentId), ['I2', 'I1']);
    }));

    it('latestFileCertificates: the newest certificate rows by event time, oldest first, no other table', withStore(async (s) => {
      const cert = (i: number) => ({
        Table: 'DeviceFileCertificateInfo', Timestamp: new Date(T0 + i * 1000).toISOString(), DeviceId: 'a1', DeviceName: 'h1',
        ReportId: uuidv7({ msecs: T0 + i * 1000 }), SHA1: String(i % 10).repeat(40), IsSigned: i % 2 === 0,
      }) as SensorEvent;
      const rows = [3, 1, 4, 2].map(cert);
      const other = { ...cert(9), Table: 'DeviceProcessEvents', ActionType: 'ProcessCreated' } as SensorEvent;
      await s.events.insertEvents('a1', [...rows, other], T0);
      assert.deepEqual((await s.events.latestFileCertificates(3)).map((e) => e.Timestamp), [2, 3, 4].map((i) => cert(i).Timestamp));
      assert.equal(JSON.stringify(await s.events.latestFileCertificates(10)), JSON.stringify([1, 2, 3, 4].map((i) => rows.find((r) => r.Timestamp === cert(i).Timestamp))));
    }));

    it('rule hits: keyed by (rule, group, report), read by group and event time in order, deleted and pruned', withStore(async (s) => {
      const hit = (reportId: string, eventTime: number, groupKey = 'g1', ruleId = 'r1') => ({ ruleId, groupKey, eventTime, reportId, detonationId: 'd', value: `v-${reportId}` });
      await s.events.addRuleHit(hit('b', T0 + 2));
      await s.events.addRuleHit(hit('a', T0 + 2));
      await s.events.addRuleHit(hit('c', T0 + 1));
      await s.events.addRuleHit(hit('c', T0 + 9)); // same (rule, report): ignored
      await s.events.addRuleHit(hit('x', T0 + 1, 'g2'));
      await s.events.addRuleHit(hit('y', T0 + 1, 'g1', 'r2'));
      assert.deepEqual((await s.events.ruleHits('r1', 'g1', T0, T0 + 10)).map((h) => [h.reportId, h.eventTime, h.value]), [['c', T0 + 1, 'v-c'], ['a', T0 + 2, 'v-a'], ['b', T0 + 2, 'v-b']]);
      assert.deepEqual((await s.events.ruleHits('r1', 'g1', T0 + 2, T0 + 2)).map((h) => h.reportId), ['a', 'b'], 'both bounds inclusive');
      await s.events.deleteRuleHits('r1', 'g1', ['a', 'x']); // x is in another group: stays
      assert.deepEqual((await s.events.ruleHits('r1', 'g1', T0, T0 + 10)).map((h) => h.reportId), ['c', 'b']);
      assert.equal((await s.events.ruleHits('r1', 'g2', T0, T0 + 10)).length, 1);
      await s.events.pruneRuleHits('r1', 'g1', T0 + 2);
      assert.deepEqual((await s.events.ruleHits('r1', 'g1', T0, T0 + 10)).map((h) => h.reportId), ['b']);
      assert.equal((await s.events.ruleHits('r1', 'g2', T0, T0 + 10)).length, 1, 'other groups are not pruned');
      await s.events.pruneRuleHits('r1', 'g2', T0 + 2);
      assert.equal((await s.events.ruleHits('r1', 'g2', T0, T0 + 10)).length, 0);
      assert.equal((await s.events.ruleHits('r2', 'g1', T0, T0 + 10)).length, 1, 'other rules are not pruned');
      // Window starts per group (lt/lte/eq correlations close windows by them).
      await s.events.addRuleHit(hit('d', T0 + 5, 'g3'));
      await s.events.addRuleHit(hit('e', T0 + 7, 'g3'));
      assert.deepEqual(await s.events.ruleGroupStarts('r1', T0 + 4), [{ groupKey: 'g1', first: T0 + 2 }]);
      assert.deepEqual(await s.events.ruleGroupStarts('r1', Number.POSITIVE_INFINITY), [{ groupKey: 'g1', first: T0 + 2 }, { groupKey: 'g3', first: T0 + 5 }]);
      // Another group (another host's events) reusing a ReportId is a hit of its own (migration 009).
      await s.events.addRuleHit(hit('e', T0 + 8, 'g5'));
      assert.deepEqual((await s.events.ruleHits('r1', 'g5', T0, T0 + 10)).map((h) => h.reportId), ['e']);
      assert.deepEqual((await s.events.ruleHits('r1', 'g3', T0, T0 + 10)).map((h) => h.reportId), ['d', 'e']);
    }));

    it('rule hits per group commit: every hit of a list of groups in one read; one write deletes by key, then inserts (existing keys ignored)', withStore(async (s) => {
      const hit = (reportId: string, eventTime: number, groupKey = 'g1', ruleId = 'r1') => ({ ruleId, groupKey, eventTime, reportId, detonationId: null, value: `v-${reportId}` });
      const key = (h: { ruleId: string; groupKey: string; reportId: string }) => `${h.ruleId}/${h.groupKey}/${h.reportId}`;
      await s.events.writeRuleHits([], [hit('a', T0 + 1), hit('b', T0 + 2), hit('c', T0 + 3, 'g2'), hit('d', T0 + 4, 'g1', 'r2'), hit('e', T0 + 5, 'g3')]);
      await s.transaction(async (tx) => {
        await tx.events.lockRuleGroups([{ ruleId: 'r1', groupKey: 'g1' }, { ruleId: 'r1', groupKey: 'g2' }]);
        assert.deepEqual((await tx.events.ruleGroupHits([{ ruleId: 'r1', groupKey: 'g1' }, { ruleId: 'r1', groupKey: 'g2' }, { ruleId: 'r9', groupKey: 'g1' }])).map(key).sort(),
          ['r1/g1/a', 'r1/g1/b', 'r1/g2/c'], 'the listed groups only (not r2/g1, not r1/g3)');
        // Deletes first: 'a' deleted and added again with a new time is the new row; 'b' added again is ignored.
        await tx.events.writeRuleHits([hit('a', 0), hit('c', 0, 'g2'), hit('zz', 0)], [hit('a', T0 + 9), hit('b', T0 + 8), hit('f', T0 + 6)]);
      });
      assert.deepEqual((await s.events.ruleHits('r1', 'g1', T0, T0 + 10)).map((h) => [h.reportId, h.eventTime, h.value, h.detonationId]),
        [['b', T0 + 2, 'v-b', null], ['f', T0 + 6, 'v-f', null], ['a', T0 + 9, 'v-a', null]]);
      assert.equal((await s.events.ruleHits('r1', 'g2', T0, T0 + 10)).length, 0);
      assert.equal((await s.events.ruleGroupHits([{ ruleId: 'r2', groupKey: 'g1' }, { ruleId: 'r1', groupKey: 'g3' }])).length, 2);
      assert.deepEqual(await s.events.ruleGroupHits([]), []);
    }));

    it('sink outbox: a new alert and each status change leave one change, in the same transaction; a sink delivers each once', withStore(async (s) => {
      const w = 10 * MIN;
      // A sink first seen before any alert starts at the beginning of the outbox.
      assert.equal(await s.sinks.sinkStart('early', T0), 0);
      await s.alerts.upsertAlert(alert('A1'), w);
      await s.alerts.upsertAlert(alert('A2'), w); // folds into A1: no change for sinks
      // A rolled-back transaction leaves no change behind.
      await assert.rejects(s.transaction(async (tx) => {
        await tx.alerts.upsertAlert(alert('X1', { dedupKey: 'key-x' }), w);
        throw new Error('crash before commit');
      }), /crash before commit/);
      await s.transaction(async (tx) => tx.alerts.setAlertStatus('A1', 'Resolved', T0 + 2 * MIN));
      await s.alerts.setAlertStatus('missing', 'Resolved', T0 + MIN); // no such alert: no change
      await s.alerts.setAlertStatus('A1', 'Resolved', T0 + 3 * MIN); // the same status again: no change
      const start = await s.sinks.sinkStart('early', T0 + 5 * MIN);
      assert.equal(start, 0, 'the start is kept from the first call');
      const pending = await s.sinks.pendingChanges('early', start, 10);
      assert.deepEqual(pending.map((c) => [c.systemAlertId, c.change, c.status, c.at]), [['A1', 'created', 'Active', T0 + MIN], ['A1', 'status', 'Resolved', T0 + 2 * MIN]]);
      assert.ok(pending[0]!.id < pending[1]!.id);
      assert.deepEqual(await s.sinks.backlog('early', start), { pending: 2, oldestAt: T0 + MIN }, 'oldest: the new alert (its updatedAt)');
      await s.sinks.markDelivered('early', [pending[0]!.id], T0 + 2 * MIN, 3);
      await s.sinks.markDelivered('early', [], T0 + 2 * MIN, 3);
      await s.sinks.markDelivered('early', [pending[0]!.id], T0 + 3 * MIN, 4); // a second record of it changes nothing
      assert.deepEqual((await s.sinks.pendingChanges('early', start, 10)).map((c) => c.change), ['status']);
      assert.deepEqual(await s.sinks.backlog('early', start), { pending: 1, oldestAt: T0 + 2 * MIN });
      // A sink configured now starts after what is already in the outbox; each sink keeps its own record.
      const late = await s.sinks.sinkStart('late', T0 + 6 * MIN);
      assert.equal(late, pending[1]!.id);
      assert.deepEqual(await s.sinks.pendingChanges('late', late, 10), []);
      await s.alerts.setAlertStatus('A1', 'Active', T0 + 7 * MIN);
      assert.deepEqual((await s.sinks.pendingChanges('late', late, 10)).map((c) => c.status), ['Active']);
      assert.deepEqual((await s.sinks.pendingChanges('early', start, 10)).map((c) => c.status), ['Resolved', 'Active']);
      // Triage fields merge into the properties (null clears one) and are no sink change.
      assert.equal(await s.alerts.setAlertTriage('A1', { classification: 'truePositive', assignedTo: 'ana@lab' }, T0 + 8 * MIN), true);
      assert.equal(await s.transaction((tx) => tx.alerts.setAlertTriage('A1', { assignedTo: null, determination: 'malware' }, T0 + 9 * MIN)), true);
      assert.equal(await s.alerts.setAlertTriage('missing', { classification: 'truePositive' }, T0), false);
      const triaged = (await s.alerts.getAlert('A1'))!;
      assert.equal(triaged.properties.classification, 'truePositive');
      assert.equal(triaged.properties.determination, 'malware');
      assert.equal(triaged.properties.assignedTo ?? null, null);
      assert.equal(triaged.properties.alertDisplayName, 'Failed SSH brute force attack', 'the other properties stay');
      assert.equal(triaged.updatedAt, T0 + 9 * MIN);
      assert.equal((await s.sinks.pendingChanges('early', start, 10)).length, 2);
    }));

    it('folded occurrences: the alert gains their count and span, and the key its last time (the next upsert folds or not by it)', withStore(async (s) => {
      const w = 10 * MIN;
      const first = await s.alerts.upsertAlert(alert('A1', { startTime: T0, endTime: T0 }), w);
      assert.equal(first.lastTime, T0, 'the claim returns the key\'s last occurrence time');
      // Three occurrences folded elsewhere: at T0 - 2 min, T0 + 4 min, T0 + 8 min.
      await s.transaction((tx) => tx.alerts.foldOccurrences({ systemAlertId: 'A1', dedupKey: 'key-1', count: 3, startTime: T0 - 2 * MIN, endTime: T0 + 8 * MIN, updatedAt: T0 + 9 * MIN, lastTime: T0 + 8 * MIN }));
      const a1 = (await s.alerts.getAlert('A1'))!;
      assert.deepEqual([a1.count, a1.startTime, a1.endTime, a1.updatedAt], [4, T0 - 2 * MIN, T0 + 8 * MIN, T0 + 9 * MIN]);
      // 17 minutes after T0 but 9 after the key's last time: it folds (it would not by the first time).
      const next = await s.alerts.upsertAlert(alert('A2', { startTime: T0 + 17 * MIN, endTime: T0 + 17 * MIN }), w);
      assert.deepEqual([next.created, next.alert.systemAlertId, next.alert.count, next.lastTime], [false, 'A1', 5, T0 + 17 * MIN]);
      // A fold for an alert that no longer owns the key leaves the key alone.
      await s.alerts.upsertAlert(alert('A3', { startTime: T0 + 60 * MIN, endTime: T0 + 60 * MIN }), w);
      await s.alerts.foldOccurrences({ systemAlertId: 'A1', dedupKey: 'key-1', count: 1, startTime: T0 + 18 * MIN, endTime: T0 + 18 * MIN, updatedAt: T0 + 20 * MIN, lastTime: T0 + 18 * MIN });
      const later = await s.alerts.upsertAlert(alert('A4', { startTime: T0 + 65 * MIN, endTime: T0 + 65 * MIN }), w);
      assert.deepEqual([later.created, later.alert.systemAlertId, later.alert.count], [false, 'A3', 2]);
      assert.equal((await s.alerts.getAlert('A1'))!.count, 6);
    }));

    it('alert upsert: same key within the window folds (count 2), outside it starts a new alert', withStore(async (s) => {
      const w = 10 * MIN;
      const first = await s.alerts.upsertAlert(alert('A1'), w);
      assert.equal(first.created, true);
      assert.deepEqual(first.alert, alert('A1'));
      const second = await s.alerts.upsertAlert(alert('A2', { startTime: T0 - MIN, endTime: T0 + 5 * MIN, updatedAt: T0 + 9 * MIN }), w);
      assert.equal(second.created, false);
      assert.equal(second.alert.systemAlertId, 'A1');
      assert.equal(second.alert.count, 2);
      assert.equal(second.alert.startTime, T0 - MIN, 'first time widened');
      assert.equal(second.alert.endTime, T0 + 5 * MIN, 'last time widened');
      assert.equal(second.alert.updatedAt, T0 + 9 * MIN);
      // 20 minutes after the last occurrence: a new alert, which becomes the open one for the key.
      const third = await s.alerts.upsertAlert(alert('A3', { startTime: T0 + 25 * MIN, endTime: T0 + 25 * MIN }), w);
      assert.equal(third.created, true);
      assert.equal(third.alert.count, 1);
      const fourth = await s.alerts.upsertAlert(alert('A4', { startTime: T0 + 30 * MIN, endTime: T0 + 30 * MIN }), w);
      assert.deepEqual([fourth.created, fourth.alert.systemAlertId, fourth.alert.count], [false, 'A3', 2]);
      // Another key never folds into these.
      assert.equal((await s.alerts.upsertAlert(alert('B1', { dedupKey: 'key-2', severity: 'High', timeGenerated: T0 }), w)).created, true);
      const all = await s.alerts.listAlerts();
      assert.deepEqual(all.map((a) => [a.systemAlertId, a.count]), [['B1', 1], ['A1', 2], ['A3', 2]], 'ordered by timeGenerated, id');
      assert.deepEqual(await s.alerts.getAlert('A1'), second.alert);
      assert.equal(await s.alerts.getAlert('A2'), undefined);
      assert.deepEqual((await s.alerts.listAlerts({ severity: 'High' })).map((a) => a.systemAlertId), ['B1']);
      assert.deepEqual((await s.alerts.listAlerts({ alertType: 'nope' })), []);
      // Events linked to alerts, filters by detonation and resource.
      await s.alerts.linkAlertEvents('A1', [{ reportId: 'e2', detonationId: 'd1' }, { reportId: 'e1', detonationId: 'd1' }]);
      await s.alerts.linkAlertEvents('A1', [{ reportId: 'e1', detonationId: 'd1' }]);
      await s.alerts.linkAlertEvents('A3', [{ reportId: 'e3', detonationId: null }]);
      assert.deepEqual(await s.alerts.alertEvents('A1'), [{ reportId: 'e1', detonationId: 'd1' }, { reportId: 'e2', detonationId: 'd1' }]);
      assert.deepEqual((await s.alerts.listAlerts({ detonationId: 'd1' })).map((a) => a.systemAlertId), ['A1']);
      assert.deepEqual((await s.alerts.listAlerts({ resourceId: '/machines/m1', severity: 'Medium', status: 'Active' })).map((a) => a.systemAlertId), ['A1', 'A3']);
    }));

    it('alert copies, statuses and the sync audit', withStore(async (s) => {
      await s.alerts.upsertAlert(alert('A1'), MIN);
      await s.alerts.upsertAlert(alert('A2', { dedupKey: 'k2' }), MIN);
      const copy = (product: string, copyId: string, id = 'A1') => ({ systemAlertId: id, product, copyId, status: 'Active' as const, updatedAt: T0 });
      await s.alerts.insertAlertCopies([copy('MDE', 'A1'), copy('MDC', 'mdc-1'), copy('M365D', 'da-1')]);
      await s.alerts.insertAlertCopies([copy('MDE', 'other'), copy('MDC', 'mdc-2', 'A2')]); // A1/MDE exists: ignored
      assert.deepEqual((await s.alerts.alertCopies('A1')).map((c) => [c.product, c.copyId]), [['M365D', 'da-1'], ['MDC', 'mdc-1'], ['MDE', 'A1']]);
      assert.deepEqual((await s.alerts.findAlertCopies('mdc-1')).map((c) => [c.systemAlertId, c.product]), [['A1', 'MDC']]);
      assert.deepEqual((await s.alerts.listAlerts({ product: 'MDC' })).map((a) => a.systemAlertId), ['A1', 'A2']);
      assert.deepEqual((await s.alerts.listAlerts({ product: 'M365D' })).map((a) => a.systemAlertId), ['A1']);
      await s.transaction(async (tx) => {
        await tx.alerts.setCopyStatus('A1', 'M365D', 'Dismissed', T0 + 1);
        await tx.alerts.setAlertStatus('A1', 'Dismissed', T0 + 1);
        await tx.settings.addSyncAudit({ at: T0 + 1, subject: 'alert', subjectId: 'A1', product: 'M365D', fromStatus: 'Active', toStatus: 'Dismissed', originProduct: 'M365D', viaProduct: null, reason: 'r' });
        await tx.settings.addSyncAudit({ at: T0 + 1, subject: 'alert', subjectId: 'A1', product: 'MDE', fromStatus: 'Active', toStatus: 'Dismissed', originProduct: 'M365D', viaProduct: 'M365D', reason: 'r' });
        await tx.settings.addSyncAudit({ at: T0 + 2, subject: 'incident', subjectId: 'I1', product: 'M365D', fromStatus: 'Active', toStatus: 'Resolved', originProduct: 'M365D', viaProduct: null, reason: 'r' });
      });
      const m365 = (await s.alerts.alertCopies('A1')).find((c) => c.product === 'M365D')!;
      assert.deepEqual([m365.status, m365.updatedAt], ['Dismissed', T0 + 1]);
      assert.equal((await s.alerts.getAlert('A1'))!.status, 'Dismissed');
      assert.deepEqual((await s.alerts.listAlerts({ status: 'Dismissed' })).map((a) => a.systemAlertId), ['A1']);
      const audit = await s.settings.listSyncAudit({ subject: 'alert', subjectId: 'A1' });
      assert.deepEqual(audit.map((a) => [a.id, a.product, a.viaProduct]), [[1, 'M365D', null], [2, 'MDE', 'M365D']]);
      assert.equal((await s.settings.listSyncAudit()).length, 3);
      assert.deepEqual((await s.settings.listSyncAudit({ subject: 'incident' }))[0], {
        id: 3, at: T0 + 2, subject: 'incident', subjectId: 'I1', product: 'M365D', fromStatus: 'Active', toStatus: 'Resolved', originProduct: 'M365D', viaProduct: null, reason: 'r',
      });
    }));

    it('incidents: shared entities within the window, merge with redirect, status and activity', withStore(async (s) => {
      for (const id of ['A1', 'A2', 'A3', 'A4']) await s.alerts.upsertAlert(alert(id, { dedupKey: id }), MIN);
      await s.incidents.insertIncident(incident('I2', T0 + 1));
      await s.incidents.insertIncident(incident('I1', T0 + 1, { sentinelStatus: 'Active' }));
      await s.incidents.insertIncident(incident('I3', T0 + 2, { status: 'Resolved' }));
      await s.incidents.addIncidentAlert('I1', 'A1', T0);
      await s.incidents.addIncidentAlert('I2', 'A2', T0);
      await s.incidents.addIncidentAlert('I3', 'A3', T0);
      await s.incidents.addIncidentAlert('I2', 'A1', T0); // an alert is in one incident only: ignored
      await s.alerts.addAlertEntities('A1', [{ kind: 'asset', value: 'm1' }, { kind: 'ip', value: '203.0.113.9' }], T0 + 10);
      await s.alerts.addAlertEntities('A1', [{ kind: 'asset', value: 'm1' }], T0 + 99);
      await s.alerts.addAlertEntities('A2', [{ kind: 'asset', value: 'm2' }, { kind: 'account', value: 'h\\root' }], T0 + 20);
      await s.alerts.addAlertEntities('A3', [{ kind: 'asset', value: 'm1' }], T0 + 30);
      const sharing = (keys: Array<{ kind: 'asset' | 'account' | 'ip'; value: string }>, since: number) =>
        s.transaction(async (tx) => (await tx.incidents.incidentsSharing(keys, since)).map((i) => i.incidentId));
      assert.deepEqual(await sharing([{ kind: 'asset', value: 'm1' }, { kind: 'asset', value: 'm2' }, { kind: 'ip', value: '203.0.113.9' }], T0), ['I1', 'I2'], 'oldest first, resolved I3 left out, each once');
      assert.deepEqual(await sharing([{ kind: 'asset', value: 'm1' }, { kind: 'account', value: 'h\\root' }], T0 + 15), ['I2'], 'entities older than `since` do not link');
      assert.deepEqual(await sharing([{ kind: 'ip', value: 'm1' }], T0), [], 'kind and value must both match');
      assert.deepEqual(await sharing([], T0), []);
      assert.equal(await s.incidents.incidentOfAlert('A1'), 'I1');
      assert.equal(await s.incidents.incidentOfAlert('A4'), undefined);

      await s.incidents.mergeIncident('I2', 'I1', T0 + 50);
      await s.incidents.addIncidentAlert('I2', 'A4', T0 + 60);
      assert.deepEqual(await s.incidents.incidentAlertIds('I2'), ['A1', 'A2', 'A4'], 'by added time, then id');
      assert.deepEqual(await s.incidents.incidentAlertSpans('I2'), ['A1', 'A2', 'A4'].map(() => ({ severity: 'Medium', startTime: T0, endTime: T0 + MIN })), 'one row per alert of the incident');
      assert.deepEqual(await s.incidents.incidentAlertSpans('I1'), []);
      assert.deepEqual(await s.incidents.incidentAlertIds('I1'), []);
      assert.equal(await s.incidents.incidentOfAlert('A1'), 'I2');
      assert.deepEqual(await s.incidents.getIncident('I1'), incident('I1', T0 + 1, { status: 'Resolved', sentinelStatus: 'Resolved', redirectedTo: 'I2', updatedAt: T0 + 50 }));
      await s.incidents.mergeIncident('I2', 'I3', T0 + 70);
      assert.equal((await s.incidents.getIncident('I3'))!.sentinelStatus, null, 'no Sentinel incident: stays null');
      assert.deepEqual(await sharing([{ kind: 'asset', value: 'm1' }], T0), ['I2'], 'redirected incidents are not candidates');

      await s.incidents.touchIncident('I2', { severity: 'High', firstActivity: T0 - 5, lastActivity: T0 + 500, updatedAt: T0 + 80 });
      await s.incidents.setIncidentStatus('I2', 'sentinelStatus', 'InProgress', T0 + 90);
      await s.incidents.setIncidentStatus('I2', 'status', 'InProgress', T0 + 91);
      assert.deepEqual(await s.incidents.getIncident('I2'), incident('I2', T0 + 1, {
        severity: 'High', firstActivity: T0 - 5, lastActivity: T0 + 500, updatedAt: T0 + 91, status: 'InProgress', sentinelStatus: 'InProgress',
      }));
      assert.equal(await s.incidents.getIncident('nope'), undefined);
      assert.deepEqual((await s.incidents.listIncidents()).map((i) => i.incidentId), ['I1', 'I2', 'I3'], 'by created time, then id');
    }));

    it('settings, enrollment tokens and agents; token uses are counted under concurrency', withStore(async (s) => {
      assert.equal(await s.settings.getSetting('admin'), undefined);
      await s.settings.setSetting('admin', 'h1');
      await s.settings.setSetting('admin', 'h2');
      assert.equal(await s.settings.getSetting('admin'), 'h2');
      // Insert-if-absent: of calls racing on an unset key exactly one sets it; a set key is left alone.
      const added = await Promise.all(['a1', 'a2', 'a3', 'a4'].map((v) => s.settings.addSetting('first', v)));
      assert.equal(added.filter(Boolean).length, 1);
      assert.equal(await s.settings.getSetting('first'), ['a1', 'a2', 'a3', 'a4'][added.indexOf(true)]);
      assert.equal(await s.settings.addSetting('admin', 'h3'), false);
      assert.equal(await s.settings.getSetting('admin'), 'h2');

      await s.agents.insertToken(token('t2', { createdAt: T0 + 1 }));
      await s.agents.insertToken(token('t1'));
      await assert.rejects(s.agents.insertToken(token('t3', { tokenHash: 'hash-t1' })), 'token hashes are unique');
      assert.deepEqual(await s.agents.findTokenByHash('hash-t1'), token('t1'));
      assert.equal(await s.agents.findTokenByHash('nope'), undefined);
      assert.deepEqual((await s.agents.listTokens()).map((t) => t.id), ['t1', 't2']);
      assert.deepEqual(await s.agents.revokeToken('t2', T0 + 5), { outcome: 'revoked', agentIds: [] });
      assert.deepEqual(await s.agents.revokeToken('t2', T0 + 6), { outcome: 'already', agentIds: [] }, 'already revoked');
      assert.deepEqual(await s.agents.revokeToken('nope', T0), { outcome: 'missing', agentIds: [] });
      assert.equal((await s.agents.findTokenByHash('hash-t2'))!.revokedAt, T0 + 5);

      const n = 12;
      await Promise.all(Array.from({ length: n }, (_, i) => s.agents.enrollAgent(agent(`agent-${i}`, 't1'), T0)));
      assert.equal((await s.agents.findTokenByHash('hash-t1'))!.uses, n);
      assert.deepEqual(await s.agents.getAgent('agent-3'), agent('agent-3', 't1'));
      assert.equal(await s.agents.getAgent('nope'), undefined);
      await assert.rejects(s.agents.enrollAgent(agent('agent-3', 't1'), T0), 'an agent id enrolls once');
      assert.equal((await s.agents.findTokenByHash('hash-t1'))!.uses, n, 'a refused enrollment counts no use');
    }));

    it('key lifecycle: max uses hold under concurrent enrollments, revocation cascades, rotation promotes the pending key, machines delete', withStore(async (s) => {
      // Issue 12: a token had unlimited uses. With max uses 1, of two concurrent enrollments exactly one succeeds.
      await s.agents.insertToken(token('once', { maxUses: 1 }));
      const race = await Promise.all([s.agents.enrollAgent(agent('r1', 'once'), T0), s.agents.enrollAgent(agent('r2', 'once'), T0)]);
      assert.deepEqual(race.filter(Boolean).length, 1, 'exactly one enrollment took the single use');
      assert.equal((await s.agents.findTokenByHash('hash-once'))!.uses, 1);
      assert.equal([await s.agents.getAgent('r1'), await s.agents.getAgent('r2')].filter(Boolean).length, 1, 'the loser created no agent');
      await s.agents.insertToken(token('five', { maxUses: 5 }));
      const many = await Promise.all(Array.from({ length: 12 }, (_, i) => s.agents.enrollAgent(agent(`m${i}`, 'five'), T0)));
      assert.equal(many.filter(Boolean).length, 5);
      assert.equal((await s.agents.findTokenByHash('hash-five'))!.uses, 5);
      await s.agents.insertToken(token('old', { expiresAt: T0 + 10 }));
      assert.equal(await s.agents.enrollAgent(agent('late', 'old'), T0 + 10), false, 'expired at now');

      // Cascade: the token's agents are revoked with it; agents of other tokens are not.
      await s.agents.insertToken(token('t1'));
      for (const id of ['c1', 'c2']) await s.agents.enrollAgent(agent(id, 't1'), T0);
      const cascaded = await s.agents.revokeToken('t1', T0 + 1, { cascade: true });
      assert.deepEqual([cascaded.outcome, [...cascaded.agentIds].sort()], ['revoked', ['c1', 'c2']]);
      assert.deepEqual([(await s.agents.getAgent('c1'))!.revokedAt, (await s.agents.getAgent('c1'))!.revokedReason], [T0 + 1, 'token revoked']);
      assert.equal(await s.agents.enrollAgent(agent('c3', 't1'), T0 + 2), false, 'a revoked token enrolls no more');
      assert.equal((await s.agents.getAgent('m0') ?? await s.agents.getAgent('m1'))!.revokedAt, null);

      // Rotation: the pending key becomes the key only when promoted with the same hash.
      const [live] = many.map((ok, i) => (ok ? `m${i}` : undefined)).filter(Boolean) as string[];
      await s.agents.setPendingKey(live!, 'next-hash');
      assert.equal((await s.agents.getAgent(live!))!.pendingKeyHash, 'next-hash');
      assert.equal(await s.agents.promoteKey(live!, 'other-hash'), false);
      assert.equal(await s.agents.promoteKey(live!, 'next-hash'), true);
      assert.deepEqual([(await s.agents.getAgent(live!))!.keyHash, (await s.agents.getAgent(live!))!.pendingKeyHash], ['next-hash', null]);
      assert.equal(await s.agents.promoteKey(live!, 'next-hash'), false, 'promoted once');
      assert.equal(await s.agents.revokeAgent(live!, T0 + 3, 'revoked'), true);
      assert.equal(await s.agents.revokeAgent(live!, T0 + 4, 'revoked'), false, 'already revoked');
      await s.agents.setPendingKey(live!, 'after-revoke');
      assert.equal((await s.agents.getAgent(live!))!.pendingKeyHash, null, 'a revoked agent gets no new key');

      // Deleting a machine removes it from the inventory; the agent row stays (revoked) for history.
      await s.machines.upsertMachine(machine(live!, 'host-del'));
      assert.equal(await s.machines.deleteMachine(live!), true);
      assert.equal(await s.machines.deleteMachine(live!), false);
      assert.equal(await s.machines.getMachine(live!), undefined);
      assert.ok(await s.agents.getAgent(live!));
    }));

    it('events are keyed by (agent, ReportId): another agent may reuse a ReportId, each agent\'s redelivery is still deduplicated', withStore(async (s) => {
      const a = planEvents(ssh, { detonationId: 'd1', device: { id: 'a1', name: 'h1' }, startTime: T0, seed: 1 }).map((p) => p.event);
      // Agent B's events carry its own DeviceId but ReportIds agent A already used (issue 12, "ReportId squatting").
      const b = a.map((e) => ({ ...e, DeviceId: 'a2', DeviceName: 'h2', DetonationId: 'd2' }));
      assert.equal((await s.events.insertEvents('a1', a, T0)).length, 10);
      assert.deepEqual((await s.events.insertEvents('a2', b.slice(0, 1), T0)).map((e) => e.DeviceId), ['a2'], 'stored: 1');
      assert.deepEqual(await s.events.insertEvents('a1', a.slice(0, 1), T0), [], "A's redelivery: stored: 0");
      assert.deepEqual(await s.events.insertEvents('a2', b.slice(0, 1), T0), [], "B's redelivery: stored: 0");
      assert.equal((await s.events.insertEvents('a2', b, T0)).length, 9);
      assert.equal(await s.events.countEvents({ agentId: 'a1' }), 10);
      assert.equal(await s.events.countEvents({ agentId: 'a2' }), 10);
      assert.deepEqual((await s.events.listEvents({ detonationId: 'd2', limit: 100 })).map((e) => e.DeviceId), b.map(() => 'a2'));
    }));

    it('migration 009 keeps the events stored under the ReportId key and rekeys them by (agent, ReportId)', async () => {
      const e = planEvents(ssh, { detonationId: 'd1', device: { id: 'a1', name: 'h1' }, startTime: T0, seed: 1 })[0]!.event;
      const q = (v: string) => `'${v.replace(/'/g, "''")}'`;
      const { store, done } = await backend.openFrom(9, [
        `INSERT INTO events (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
         VALUES (${q(e.ReportId)}, 'a1', ${q(e.Table)}, ${Date.parse(e.Timestamp)}, 'd1', ${q(JSON.stringify(e))}, ${T0})`,
      ]);
      try {
        assert.deepEqual(await store.migrations(), MIGRATION_VERSIONS);
        assert.equal(JSON.stringify(await store.events.listEvents({ agentId: 'a1' })), JSON.stringify([e]), 'the old row is kept as it was');
        assert.deepEqual(await store.events.insertEvents('a1', [e], T0), [], 'and still deduplicates its agent\'s redelivery');
        assert.equal((await store.events.insertEvents('a2', [{ ...e, DeviceId: 'a2' }], T0)).length, 1, 'another agent may use the ReportId');
      } finally {
        await done();
      }
    });

    it('migration 014 keeps every stored event, its (agent, ReportId) dedup and its reads', async () => {
      const [e1, e2, e3] = planEvents(ssh, { detonationId: 'd1', device: { id: 'a1', name: 'h1' }, startTime: T0, seed: 1 }).slice(0, 3).map((p) => p.event);
      const other = { ...e1!, DeviceId: 'a2', DeviceName: 'h2', DetonationId: 'd2' };
      const q = (v: string) => `'${v.replace(/'/g, "''")}'`;
      const row = (e: SensorEvent, agentId: string, receivedAt: number) => `INSERT INTO events (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
         VALUES (${q(e.ReportId)}, ${q(agentId)}, ${q(e.Table)}, ${Date.parse(e.Timestamp)}, ${q(e.DetonationId!)}, ${q(JSON.stringify(e))}, ${receivedAt})`;
      // Stored under migrations 009-013: keyed by (agent, ReportId), another agent reusing e1's ReportId.
      const { store, done } = await backend.openFrom(14, [row(e2!, 'a1', T0 + 1), row(e1!, 'a1', T0), row(other, 'a2', T0 + 2)]);
      try {
        assert.deepEqual(await store.migrations(), MIGRATION_VERSIONS);
        assert.equal(await store.events.countEvents(), 3);
        assert.equal(JSON.stringify(await store.events.listEvents({ agentId: 'a1' })), JSON.stringify([e1, e2]), 'the old rows are kept as they were, in event-time order');
        assert.deepEqual((await store.events.getEvents([e2!.ReportId, e1!.ReportId])).map((e) => e.ReportId), [e2!.ReportId, e1!.ReportId], 'read by ReportId (event links, closing windows), in the order asked');
        assert.deepEqual(await store.events.insertEvents('a1', [e1!, e2!], T0), [], "an agent's redelivery is still deduplicated");
        assert.deepEqual(await store.events.insertEvents('a2', [other], T0), [], 'so is the other agent\'s');
        assert.deepEqual((await store.events.insertEvents('a1', [e3!, e3!], T0)).map((e) => e.ReportId), [e3!.ReportId], 'a new event is stored once');
        assert.equal((await store.events.insertEvents('a3', [{ ...e3!, DeviceId: 'a3' }], T0)).length, 1, 'a third agent may reuse the ReportId');
        assert.equal(await store.events.countEvents({ detonationId: 'd2' }), 1);
        assert.equal((await store.events.scanEvents({ table: e1!.Table, limit: 10, equals: [{ column: 'DeviceId', values: ['a2'] }] })).length, 1);
      } finally {
        await done();
      }
    });

    it('machines: the spool drop total of the last heartbeat is kept; a heartbeat without it changes nothing', withStore(async (s) => {
      await s.agents.insertToken(token('t1'));
      await s.agents.enrollAgent(agent('a1', 't1'), T0);
      await s.machines.upsertMachine(machine('a1', 'host-a'));
      assert.equal((await s.machines.getMachine('a1'))!.droppedEvents, 0);
      await s.machines.recordHeartbeat('a1', T0 + 1, 2000);
      assert.equal((await s.machines.getMachine('a1'))!.droppedEvents, 2000);
      await s.machines.recordHeartbeat('a1', T0 + 2);
      assert.equal((await s.machines.getMachine('a1'))!.droppedEvents, 2000);
      await s.machines.upsertMachine(machine('a1', 'host-a', { lastHeartbeat: T0 + 3 }));
      assert.equal((await s.machines.getMachine('a1'))!.droppedEvents, 2000, 'a re-registration keeps it');
    }));

    it('machines: heartbeats recorded in one batch move forward, keep drop totals, and report the machines that were not Connected', withStore(async (s) => {
      await s.agents.insertToken(token('t1'));
      for (const id of ['a1', 'a2', 'a3']) {
        await s.agents.enrollAgent(agent(id, 't1'), T0);
        await s.machines.upsertMachine(machine(id, `host-${id}`, { lastHeartbeat: T0 + 10 }));
      }
      assert.equal(await s.machines.setMachineStatus('a2', 'Disconnected', T0 + 11), true);
      const again = await s.machines.recordHeartbeats([
        { agentId: 'a1', at: T0 + 20, droppedEvents: 5 }, { agentId: 'a2', at: T0 + 21 }, { agentId: 'a3', at: T0 + 5 }, { agentId: 'nobody', at: T0 + 20 },
      ]);
      assert.deepEqual(again, ['a2']);
      const [m1, m2, m3] = await Promise.all(['a1', 'a2', 'a3'].map((id) => s.machines.getMachine(id)));
      assert.deepEqual([m1!.lastHeartbeat, m1!.droppedEvents], [T0 + 20, 5]);
      assert.deepEqual([m2!.lastHeartbeat, m2!.status, m2!.lastStatusChange], [T0 + 21, 'Connected', T0 + 21]);
      assert.equal(m3!.lastHeartbeat, T0 + 10, 'an older heartbeat does not move it back');
      assert.deepEqual(await s.machines.recordHeartbeats([]), []);
    }));

    it('machines: the silent-machine listing holds exactly the machines whose silence calls for a status change, at each boundary', withStore(async (s) => {
      const c = { heartbeatIntervalMs: 30_000, missedHeartbeats: 3, expiredAfterMs: 45 * DAY };
      const D = c.missedHeartbeats * c.heartbeatIntervalMs;
      const E = c.expiredAfterMs;
      const now = T0 + 50 * DAY;
      // [agent, status, silence in ms]; registered in this order, so listed in it.
      const fixture: Array<[string, ArcStatus, number]> = [
        ['fresh', 'Connected', 0],
        ['c-at-disconnect', 'Connected', D],
        ['c-past-disconnect', 'Connected', D + 1],
        ['c-before-expire', 'Connected', E - 1],
        ['c-at-expire', 'Connected', E],
        ['d-past-disconnect', 'Disconnected', D + 1],
        ['d-before-expire', 'Disconnected', E - 1],
        ['d-at-expire', 'Disconnected', E],
        ['d-past-expire', 'Disconnected', E + 1],
        ['error-silent', 'Error', E + DAY],
        ['expired-silent', 'Expired', E + DAY],
      ];
      await s.agents.insertToken(token('t1'));
      const rows = fixture.map(([id, status, silence], i) => ({ agentId: id, status, lastHeartbeat: now - silence, registeredAt: T0 + i }));
      for (const r of rows) {
        await s.agents.enrollAgent(agent(r.agentId, 't1'), T0);
        await s.machines.upsertMachine(machine(r.agentId, `host-${r.agentId}`, r));
      }
      const expectFrom = (cfg: typeof c) => rows.filter((r) => statusAfterSilence(r, now, cfg) !== undefined)
        .map((r) => ({ agentId: r.agentId, status: r.status, lastHeartbeat: r.lastHeartbeat }));
      const listed = (cfg: typeof c) => { const b = silenceBounds(now, cfg); return s.machines.listSilentMachines(b.disconnectBefore, b.expireFrom); };

      // The rule's own verdicts, so the fixture really sits on both sides of each boundary.
      assert.deepEqual(rows.map((r) => [r.agentId, statusAfterSilence(r, now, c) ?? null]), [
        ['fresh', null], ['c-at-disconnect', null], ['c-past-disconnect', 'Disconnected'], ['c-before-expire', 'Disconnected'],
        ['c-at-expire', 'Expired'], ['d-past-disconnect', null], ['d-before-expire', null], ['d-at-expire', 'Expired'],
        ['d-past-expire', 'Expired'], ['error-silent', null], ['expired-silent', null],
      ]);
      assert.deepEqual(await listed(c), expectFrom(c), 'what the rule would change, no more, in registration order');
      // A fractional duration (`45d0.5ms`) moves the expire boundary between two heartbeat times.
      const half = { ...c, expiredAfterMs: E + 0.5 };
      assert.deepEqual(await listed(half), expectFrom(half));
      assert.notDeepEqual(expectFrom(half), expectFrom(c));
      assert.deepEqual(await s.machines.listSilentMachines(-Infinity, -Infinity), [], 'nothing is that silent');
      assert.deepEqual((await s.machines.listSilentMachines(now, Infinity)).map((r) => r.agentId), rows.filter((r) => r.status !== 'Error' && r.status !== 'Expired').map((r) => r.agentId));
    }));

    it('machines: upsert keeps the first resource id and status change time, heartbeats only move forward', withStore(async (s) => {
      await s.agents.insertToken(token('t1'));
      for (const id of ['a1', 'a2']) await s.agents.enrollAgent(agent(id, 't1'), T0);
      const m1 = await s.machines.upsertMachine(machine('a1', 'host-b', { registeredAt: T0 + 1 }));
      assert.deepEqual(m1, machine('a1', 'host-b', { registeredAt: T0 + 1, tags: {}, notCollected: {}, droppedEvents: 0 }), 'tags, not-collected and dropped counts start empty');
      await s.machines.upsertMachine(machine('a2', 'host-a', { registeredAt: T0 + 1, sqlInstances: [{ instanceName: 'MSSQLSERVER' } as never] }));
      const again = await s.machines.upsertMachine(machine('a1', 'renamed', {
        facts: { ...TEST_FACTS, osVersion: '6.2' }, lastHeartbeat: T0 + 10, lastStatusChange: T0 + 10, registeredAt: T0 + 10,
      }));
      assert.equal(again.name, 'host-b');
      assert.match(again.resourceId, /machines\/host-b$/);
      assert.equal(again.facts.osVersion, '6.2');
      assert.equal(again.lastHeartbeat, T0 + 10);
      assert.equal(again.lastStatusChange, T0, 'same status: change time kept');
      assert.equal(again.registeredAt, T0 + 1);
      assert.equal(await s.machines.isResourceIdTaken(again.resourceId, 'a2'), true);
      assert.equal(await s.machines.isResourceIdTaken(again.resourceId, 'a1'), false);
      assert.deepEqual((await s.machines.listMachines()).map((m) => m.name), ['host-a', 'host-b'], 'by registration time, then name');
      await s.machines.recordHeartbeat('a1', T0 + 5);
      assert.equal((await s.machines.getMachine('a1'))!.lastHeartbeat, T0 + 10, 'an older heartbeat does not go back');
      await s.machines.recordHeartbeat('a1', T0 + 20);
      await s.machines.setMachineStatus('a1', 'Disconnected', T0 + 30);
      await s.machines.setMachineStatus('a1', 'Disconnected', T0 + 40);
      const m = (await s.machines.getMachine('a1'))!;
      assert.deepEqual([m.lastHeartbeat, m.status, m.lastStatusChange], [T0 + 20, 'Disconnected', T0 + 30]);
      const back = await s.machines.upsertMachine(machine('a1', 'host-b', { status: 'Connected', lastStatusChange: T0 + 50, lastHeartbeat: T0 + 50 }));
      assert.deepEqual([back.status, back.lastStatusChange], ['Connected', T0 + 50]);
      assert.deepEqual((await s.machines.getMachine('a2'))!.sqlInstances, [{ instanceName: 'MSSQLSERVER' }]);
      assert.equal(await s.machines.getMachine('nope'), undefined);
    }));

    it('machines: status changes reported, tags and extensions set, not-collected counts add up under concurrency', withStore(async (s) => {
      await s.agents.insertToken(token('t1'));
      await s.agents.enrollAgent(agent('a1', 't1'), T0);
      await s.machines.upsertMachine(machine('a1', 'host-a'));
      assert.equal(await s.machines.setMachineStatus('a1', 'Disconnected', T0 + 1), true, 'changed');
      assert.equal(await s.machines.setMachineStatus('a1', 'Disconnected', T0 + 2), false, 'already so');
      assert.equal(await s.machines.setMachineStatus('nope', 'Disconnected', T0 + 2), false, 'no such machine');
      assert.equal((await s.machines.getMachine('a1'))!.lastStatusChange, T0 + 1);

      await s.machines.setMachineTags('a1', { MDFCSecurityConnector: 'aws-1', AccountId: '123456789012', InstanceId: 'i-1' });
      const extensions = [
        { name: 'MDE.Linux', publisher: 'Microsoft.Azure.AzureDefenderForServers', status: 'Succeeded' as const },
        { name: 'AzureMonitorLinuxAgent', status: 'Creating' as const },
      ];
      await s.transaction((tx) => tx.machines.setMachineExtensions('a1', extensions));
      await s.machines.addNotCollected('a1', { DeviceProcessEvents: 2, Syslog: 1 });
      await s.machines.addNotCollected('a1', { Syslog: 4 });
      await s.machines.addNotCollected('a1', {});
      // Concurrent adds on one machine are all counted (no lost read-modify-write).
      await Promise.all(Array.from({ length: 12 }, () => s.machines.addNotCollected('a1', { DeviceNetworkEvents: 1, Syslog: 1 })));
      await s.machines.addNotCollected('nope', { Syslog: 1 }); // no machine: nothing to count on, no error
      const m = (await s.transaction((tx) => tx.machines.getMachine('a1')))!;
      assert.deepEqual(m.tags, { MDFCSecurityConnector: 'aws-1', AccountId: '123456789012', InstanceId: 'i-1' });
      assert.deepEqual(m.extensions, extensions);
      assert.deepEqual(m.notCollected, { DeviceProcessEvents: 2, Syslog: 17, DeviceNetworkEvents: 12 });
      assert.deepEqual((await s.machines.listMachines())[0], m);

      // Re-registering replaces facts and extensions, never the tags or the counts.
      const again = await s.machines.upsertMachine(machine('a1', 'host-a', { lastHeartbeat: T0 + 5, tags: { other: 'x' }, notCollected: { Syslog: 999 } }));
      assert.deepEqual(again.tags, m.tags);
      assert.deepEqual(again.notCollected, m.notCollected);
      assert.deepEqual(again.extensions, machine('a1', 'host-a').extensions);
      await s.machines.setMachineTags('a1', {});
      assert.deepEqual((await s.machines.getMachine('a1'))!.tags, {});
    }));

    it('identity conflicts: recorded with increasing ids, listed by detection time then id, per agent', withStore(async (s) => {
      await s.agents.insertToken(token('t1'));
      for (const id of ['a1', 'a2']) await s.agents.enrollAgent(agent(id, 't1'), T0);
      const clone = { ...TEST_FACTS, hostname: 'clone-01', vmUuid: '00000000-0000-0000-0000-000000000001' };
      const c1 = await s.machines.recordIdentityConflict({ agentId: 'a1', detectedAt: T0 + 20, existingFacts: TEST_FACTS, newcomerFacts: clone, remoteAddress: '10.0.0.9', differences: ['hostname', 'vmUuid'] });
      const c2 = await s.machines.recordIdentityConflict({ agentId: 'a2', detectedAt: T0 + 10, existingFacts: TEST_FACTS, newcomerFacts: TEST_FACTS, remoteAddress: null, differences: [] });
      const c3 = await s.machines.recordIdentityConflict({ agentId: 'a1', detectedAt: T0 + 20, existingFacts: clone, newcomerFacts: TEST_FACTS, remoteAddress: '::1', differences: ['macAddresses'] });
      assert.deepEqual([c1.id, c2.id, c3.id], [1, 2, 3]);
      assert.deepEqual(c1, { id: 1, agentId: 'a1', detectedAt: T0 + 20, existingFacts: TEST_FACTS, newcomerFacts: clone, remoteAddress: '10.0.0.9', differences: ['hostname', 'vmUuid'] });
      assert.deepEqual(await s.machines.listIdentityConflicts(), [c2, c1, c3]);
      assert.deepEqual(await s.machines.listIdentityConflicts('a1'), [c1, c3]);
      assert.deepEqual(await s.machines.listIdentityConflicts('nope'), []);
      await assert.rejects(s.machines.recordIdentityConflict({ ...c1, agentId: 'unknown-agent' }), 'conflicts name an enrolled agent');
    }));

    it('connectors, CSPM resources (first seen kept, deletions kept) and the snapshot log', withStore(async (s) => {
      await s.inventory.upsertConnector(connector('gcp-1', { provider: 'GCP', accountId: 'proj-1' }));
      await s.inventory.upsertConnector(connector('aws-1'));
      await s.inventory.upsertConnector(connector('aws-1', { accountId: '999', config: { v: 2 }, createdAt: T0 + 5, updatedAt: T0 + 5 }));
      assert.deepEqual(await s.inventory.getConnector('aws-1'), connector('aws-1', { accountId: '999', config: { v: 2 }, updatedAt: T0 + 5 }), 'creation time kept');
      assert.deepEqual((await s.inventory.listConnectors()).map((c) => c.name), ['aws-1', 'gcp-1']);
      assert.equal(await s.inventory.getConnector('nope'), undefined);

      await s.transaction(async (tx) => {
        await tx.inventory.upsertCspmResource(resource('gcp-1', 'gcp-compute-instance', '42'));
        await tx.inventory.upsertCspmResource(resource('aws-1', 'aws-ec2-instance', 'i-b'));
        await tx.inventory.upsertCspmResource(resource('aws-1', 'aws-ec2-instance', 'i-B'));
        await tx.inventory.upsertCspmResource(resource('aws-1', 'aws-security-group', 'sg-1'));
        assert.equal((await tx.inventory.listCspmResources()).length, 4, 'a transaction sees its own writes');
      });
      const renamed = resource('aws-1', 'aws-ec2-instance', 'i-b', { name: 'web', state: 'stopped', data: { previousNames: ['name-i-b'] }, lastSeen: T0 + 9 });
      await s.inventory.upsertCspmResource({ ...renamed, firstSeen: T0 + 9 });
      await s.inventory.upsertCspmResource(resource('aws-1', 'aws-ec2-instance', 'i-B', { deletedAt: T0 + 9, lastSeen: T0 + 9 }));
      await assert.rejects(s.inventory.upsertCspmResource(resource('no-connector', 'aws-ec2-instance', 'i-9')), 'resources belong to a known connector');
      const key = (r: CspmResourceRow) => `${r.connector}/${r.kind}/${r.nativeId}`;
      assert.deepEqual((await s.inventory.listCspmResources()).map(key), ['aws-1/aws-ec2-instance/i-b', 'aws-1/aws-security-group/sg-1', 'gcp-1/gcp-compute-instance/42'], 'deleted left out; bytewise order');
      assert.deepEqual((await s.inventory.listCspmResources({ includeDeleted: true })).map(key),
        ['aws-1/aws-ec2-instance/i-B', 'aws-1/aws-ec2-instance/i-b', 'aws-1/aws-security-group/sg-1', 'gcp-1/gcp-compute-instance/42']);
      assert.deepEqual(await s.inventory.listCspmResources({ connector: 'aws-1', kind: 'aws-ec2-instance', includeDeleted: true }), [
        resource('aws-1', 'aws-ec2-instance', 'i-B', { deletedAt: T0 + 9, lastSeen: T0 + 9 }), renamed,
      ]);
      assert.deepEqual((await s.inventory.listCspmResources({ connector: 'gcp-1' })).map(key), ['gcp-1/gcp-compute-instance/42']);
      assert.deepEqual(await s.inventory.listCspmResources({ kind: 'nope' }), []);
      // Undeleting: a later snapshot has it again.
      await s.inventory.upsertCspmResource(resource('aws-1', 'aws-ec2-instance', 'i-B', { lastSeen: T0 + 20 }));
      assert.equal((await s.inventory.listCspmResources({ kind: 'aws-ec2-instance' })).length, 2);

      const snap = (kind: string, takenAt: number, added: number) => ({ connector: 'aws-1', kind, source: 'api', takenAt, resources: 3, added, changed: 1, deleted: 0 });
      await s.inventory.addSnapshotLog(snap('ec2', T0 + 9, 2));
      await s.transaction((tx) => tx.inventory.addSnapshotLog({ ...snap('gce', T0, 1), connector: 'gcp-1', source: 'cli' }));
      await s.inventory.addSnapshotLog(snap('sg', T0 + 1, 0));
      assert.deepEqual(await s.inventory.listSnapshotLog('aws-1'), [snap('ec2', T0 + 9, 2), snap('sg', T0 + 1, 0)], 'in the order taken');
      assert.equal((await s.inventory.listSnapshotLog('gcp-1'))[0]!.source, 'cli');
      assert.deepEqual(await s.inventory.listSnapshotLog('nope'), []);
    }));

    it('assets: replaced as a whole, listed by key, looked up by source', withStore(async (s) => {
      const b = asset('b', [{ kind: 'arc', id: '/m/h1' }, { kind: 'cspm', id: '/c/i-1' }], {
        confidence: 'strong', reasons: ['vmUuid matches', 'private ip'], conflicts: [{ kind: 'name', message: 'names differ', sources: ['/m/h1', '/c/i-1'] }], updatedAt: T0 + 3,
      });
      const a = asset('a', [{ kind: 'arc', id: '/m/h2' }]);
      const lonely = asset('c', []);
      // Sources are read back by kind then id, whatever order they were given in.
      await s.transaction((tx) => tx.inventory.replaceAssets([{ ...b, sources: [...b.sources].reverse() }, a, lonely]));
      assert.deepEqual(await s.inventory.listAssets(), [a, b, lonely]);
      assert.deepEqual(await s.transaction((tx) => tx.inventory.listAssets()), [a, b, lonely]);
      assert.deepEqual(await s.inventory.assetOfSource('cspm', '/c/i-1'), b);
      assert.deepEqual(await s.transaction((tx) => tx.inventory.assetOfSource('arc', '/m/h1')), b);
      assert.equal(await s.inventory.assetOfSource('cspm', '/m/h1'), undefined, 'kind and id must both match');
      // The key alone (what ingest reads per batch): the same asset's, by the same rule.
      assert.equal(await s.inventory.assetKeyOfSource('cspm', '/c/i-1'), 'b');
      assert.equal(await s.transaction((tx) => tx.inventory.assetKeyOfSource('arc', '/m/h1')), 'b');
      assert.equal(await s.inventory.assetKeyOfSource('arc', '/m/h2'), 'a');
      assert.equal(await s.inventory.assetKeyOfSource('cspm', '/m/h1'), undefined, 'kind and id must both match');

      // The next merge moves /m/h1 to a new asset and drops the rest.
      const d = asset('d', [{ kind: 'arc', id: '/m/h1' }], { confidence: 'probable' });
      await s.inventory.replaceAssets([d]);
      assert.deepEqual(await s.inventory.listAssets(), [d]);
      assert.equal(await s.inventory.assetOfSource('cspm', '/c/i-1'), undefined);
      assert.deepEqual(await s.inventory.assetOfSource('arc', '/m/h1'), d);
      assert.equal(await s.inventory.assetKeyOfSource('arc', '/m/h1'), 'd', 'moved with its source');
      assert.equal(await s.inventory.assetKeyOfSource('cspm', '/c/i-1'), undefined);
      // Replacing with the same keys again (delete and insert of one key in one transaction).
      await s.transaction((tx) => tx.inventory.replaceAssets([d, a]));
      assert.deepEqual((await s.inventory.listAssets()).map((x) => x.assetKey), ['a', 'd']);
      await s.inventory.replaceAssets([]);
      assert.deepEqual(await s.inventory.listAssets(), []);
      await assert.rejects(s.inventory.replaceAssets([a, { ...b, sources: a.sources }]), 'a source belongs to one asset');
      assert.deepEqual(await s.inventory.listAssets(), [], 'a failed replace changes nothing');
    }));

    it('merge keys: written with machines (facts, tags) and CSPM instances, looked up by key; partial asset replace', withStore(async (s) => {
      await s.agents.insertToken(token('t1'));
      for (const id of ['a1', 'a2']) await s.agents.enrollAgent(agent(id, 't1'), T0);
      await s.inventory.upsertConnector(connector('aws-1'));
      const aws = { provider: 'AWS', details: { accountId: '123456789012', instanceId: 'i-1' } };
      const m1 = await s.machines.upsertMachine(machine('a1', 'host-a', { facts: { ...TEST_FACTS, hostname: 'host-a', cloudMetadata: aws } }));
      const m2 = await s.machines.upsertMachine(machine('a2', 'host-b'));
      const ec2 = resource('aws-1', 'aws-ec2-instance', 'i-1', { data: { hostnames: ['web'], privateIps: ['10.0.0.4'] } });
      await s.inventory.upsertCspmResource(ec2);
      await s.inventory.upsertCspmResource(resource('aws-1', 'aws-security-group', 'i-1'));
      const items = async (keys: string[]) => (await s.inventory.mergeItemsWithKeys(keys)).map((i) => `${i.kind} ${i.id}`).sort();
      // The agent's IMDS instance id and the instance's native id are one key; a security group has none.
      assert.deepEqual(await items(['id:i-1']), [`arc ${m1.resourceId}`, `cspm ${ec2.resourceId}`]);
      assert.deepEqual(await items(['hostip:web|10.0.0.4', 'nope']), [`cspm ${ec2.resourceId}`], 'hostname + private IP');
      assert.deepEqual(await items([`arc:${m2.resourceId.toLowerCase()}`]), [`arc ${m2.resourceId}`]);
      assert.deepEqual(await items([]), []);
      // MDC tags claim an instance too; the keys follow the tags.
      await s.machines.setMachineTags('a2', { InstanceId: 'i-1', AccountId: '123456789012' });
      assert.deepEqual(await items(['id:i-1']), [`arc ${m1.resourceId}`, `arc ${m2.resourceId}`, `cspm ${ec2.resourceId}`]);
      // A machine registering again without the claim loses the key; a deleted machine loses all.
      await s.machines.upsertMachine(machine('a1', 'host-a'));
      assert.deepEqual((await s.transaction((tx) => tx.inventory.mergeItemsWithKeys(['id:i-1']))).length, 2);
      assert.equal(await s.machines.deleteMachine('a2'), true);
      assert.deepEqual(await items(['id:i-1', `arc:${m2.resourceId.toLowerCase()}`]), [`cspm ${ec2.resourceId}`]);
      assert.deepEqual((await s.machines.machinesByResourceIds([m1.resourceId, m2.resourceId, 'nope'])).map((m) => m.agentId), ['a1']);
      assert.deepEqual(await s.inventory.cspmResourcesByResourceIds([ec2.resourceId]), [ec2]);
      assert.deepEqual(await s.machines.machinesByResourceIds([]), []);
      // A full rebuild replaces every key.
      await s.inventory.replaceMergeKeys([{ kind: 'arc', id: '/m/x', keys: ['id:i-9', 'uuid:u'] }]);
      assert.deepEqual(await items(['id:i-1', 'id:i-9', 'uuid:u']), ['arc /m/x']);

      // Assets of some sources, and a replace of only those.
      const a = asset('a', [{ kind: 'arc', id: '/m/h1' }]);
      const b = asset('b', [{ kind: 'cspm', id: '/c/i-1' }]);
      const c = asset('c', [{ kind: 'arc', id: '/m/h2' }]);
      await s.inventory.replaceAssets([a, b, c]);
      assert.deepEqual(await s.inventory.assetsOfSources([{ kind: 'arc', id: '/m/h1' }, { kind: 'cspm', id: '/c/i-1' }, { kind: 'cspm', id: '/m/h2' }]), [a, b], 'kind and id must both match');
      assert.deepEqual(await s.inventory.assetsOfSources([]), []);
      const ab = asset('ab', [{ kind: 'arc', id: '/m/h1' }, { kind: 'cspm', id: '/c/i-1' }], { confidence: 'strong' });
      await s.transaction((tx) => tx.inventory.replaceAssetsOf([a.assetId, b.assetId], [ab]));
      assert.deepEqual(await s.inventory.listAssets(), [ab, c]);
      await assert.rejects(s.inventory.replaceAssetsOf([], [{ ...a, assetId: 'asset-z', assetKey: 'z', sources: c.sources }]), 'a source belongs to one asset');
      await s.inventory.replaceAssetsOf([ab.assetId, a.assetId], []);
      assert.deepEqual(await s.inventory.listAssets(), [c]);

      const row = (resourceId: string) => ({ assessmentKey: 'k', resourceId, subscription: 'sub', status: 'Healthy' as const, details: {}, firstSeen: T0, statusChanged: T0 });
      for (const id of ['/m/h1', '/m/h2']) await s.inventory.upsertAssessment(row(id));
      assert.deepEqual(await s.inventory.listAssessmentsFor(['/m/h2', '/nope']), [row('/m/h2')]);
      assert.deepEqual(await s.inventory.listAssessmentsFor([]), []);
    }));

    it('plans and assessments: upserts on their keys, listed in key order', withStore(async (s) => {
      await s.inventory.setPlan({ scopeKind: 'subscription', scope: 'sub', plan: 'VirtualMachines', subPlan: 'P2', enabled: true, updatedAt: T0 });
      await s.inventory.setPlan({ scopeKind: 'subscription', scope: 'sub', plan: 'SqlServerVirtualMachines', subPlan: null, enabled: false, updatedAt: T0 });
      await s.inventory.setPlan({ scopeKind: 'connector', scope: 'aws-1', plan: 'VirtualMachines', subPlan: 'P1', enabled: true, updatedAt: T0 });
      await s.inventory.setPlan({ scopeKind: 'subscription', scope: 'sub', plan: 'VirtualMachines', subPlan: 'P1', enabled: false, updatedAt: T0 + 1 });
      assert.deepEqual(await s.transaction((tx) => tx.inventory.listPlans()), [
        { scopeKind: 'connector', scope: 'aws-1', plan: 'VirtualMachines', subPlan: 'P1', enabled: true, updatedAt: T0 },
        { scopeKind: 'subscription', scope: 'sub', plan: 'SqlServerVirtualMachines', subPlan: null, enabled: false, updatedAt: T0 },
        { scopeKind: 'subscription', scope: 'sub', plan: 'VirtualMachines', subPlan: 'P1', enabled: false, updatedAt: T0 + 1 },
      ]);
      assert.deepEqual(await s.inventory.listPlans(), await s.transaction((tx) => tx.inventory.listPlans()));

      const assessment = (assessmentKey: string, resourceId: string, over: Partial<AssessmentRow> = {}): AssessmentRow => ({
        assessmentKey, resourceId, subscription: 'sub', status: 'Unhealthy', details: { reason: 'no EDR', z: [1] }, firstSeen: T0, statusChanged: T0, ...over,
      });
      await s.transaction(async (tx) => {
        await tx.inventory.upsertAssessment(assessment('k2', '/m/b'));
        await tx.inventory.upsertAssessment(assessment('k1', '/m/b'));
        await tx.inventory.upsertAssessment(assessment('k1', '/m/a'));
      });
      await s.inventory.upsertAssessment(assessment('k1', '/m/b', { status: 'Healthy', details: {}, firstSeen: T0 + 7, statusChanged: T0 + 7, subscription: 'sub2' }));
      assert.deepEqual(await s.inventory.listAssessments(), [
        assessment('k1', '/m/a'), assessment('k1', '/m/b', { status: 'Healthy', details: {}, statusChanged: T0 + 7, subscription: 'sub2' }), assessment('k2', '/m/b'),
      ], 'first seen kept');
    }));

    it('alert sources: one row per (alert, path, resource), arrivals counted (also concurrently), times widened', withStore(async (s) => {
      const src = (kind: 'agent' | 'cspm', resourceId: string, t: number, over: Partial<AlertSourceRow> = {}): AlertSourceRow =>
        ({ systemAlertId: 'A1', kind, resourceId, detail: kind === 'agent' ? 'MDE' : 'aws-1', firstTime: t, lastTime: t, count: 1, ...over });
      await s.transaction(async (tx) => {
        await tx.alerts.addAlertSource(src('cspm', '/c/i-1', T0 + 5));
        await tx.alerts.addAlertSource(src('agent', '/m/h1', T0 + 5));
      });
      await s.alerts.addAlertSource(src('agent', '/m/h1', T0 + 1, { detail: 'other' }));
      await s.alerts.addAlertSource(src('agent', '/m/h1', T0 + 9, { count: 3 }));
      await Promise.all(Array.from({ length: 10 }, (_, i) => s.alerts.addAlertSource(src('cspm', '/c/i-1', T0 + i))));
      await s.alerts.addAlertSource(src('agent', '/m/h1', T0, { systemAlertId: 'A2' }));
      assert.deepEqual(await s.transaction((tx) => tx.alerts.alertSources('A1')), [
        src('agent', '/m/h1', T0 + 1, { lastTime: T0 + 9, count: 5 }),
        src('cspm', '/c/i-1', T0, { lastTime: T0 + 9, count: 11 }),
      ], 'by path then resource; the first detail is kept');
      assert.equal((await s.alerts.alertSources('A2')).length, 1);
      assert.deepEqual(await s.alerts.alertSources('nope'), []);
    }));

    it('test runs: stored with their cells, replaced as a whole, listed newest first', withStore(async (s) => {
      const cell = (cellId: string, status: string, reasons: string[] = []) => ({ cellId, rowId: cellId.split('@')[0]!, host: cellId.split('@')[1]!, status, reasons });
      const r1 = testRun('run-1', T0, [cell('ssh@h2', 'pass'), cell('ssh@h1', 'fail', ['no alert', 'timeout'])]);
      const r2 = testRun('run-b', T0 + 10, [cell('ps@h1', 'not-run', ['host offline'])]);
      const r3 = testRun('run-a', T0 + 10, []);
      for (const r of [r1, r2, r3]) await s.runs.insertTestRun(r);
      const head = ({ suite: _s, result: _r, cells: _c, ...rest }: TestRunRow) => rest;
      assert.deepEqual(await s.runs.listTestRuns(), [head(r3), head(r2), head(r1)], 'newest first, then id');
      assert.deepEqual(await s.runs.listTestRuns(2), [head(r3), head(r2)]);
      assert.deepEqual(await s.runs.getTestRun('run-1'), { ...r1, cells: [r1.cells[1], r1.cells[0]] }, 'cells by id');
      assert.deepEqual(await s.runs.getTestRun('run-a'), r3);
      assert.equal(await s.runs.getTestRun('nope'), undefined);

      // Saving a run id again replaces it, cells included.
      const again = testRun('run-1', T0 + 20, [cell('ssh@h3', 'pass')], { suiteName: 'renamed' });
      await s.runs.insertTestRun(again);
      assert.deepEqual(await s.runs.getTestRun('run-1'), again);
      assert.deepEqual((await s.runs.listTestRuns()).map((r) => r.runId), ['run-1', 'run-a', 'run-b']);
      // Two saves of one run at once: one of them wins whole, never a mix of both.
      const x = testRun('run-x', T0, [cell('a@h1', 'pass'), cell('b@h1', 'pass')]);
      const y = testRun('run-x', T0 + 1, [cell('c@h1', 'fail', ['y'])], { ok: false });
      await Promise.all([s.runs.insertTestRun(x), s.runs.insertTestRun(y)]);
      const stored = (await s.runs.getTestRun('run-x'))!;
      assert.ok([JSON.stringify(x), JSON.stringify(y)].includes(JSON.stringify(stored)), JSON.stringify(stored));
    }));

    it('API keys: found by hash (revoked too), listed in creation order, revoked once, last use kept', withStore(async (s) => {
      const key = (id: string, at: number, role: 'reader' | 'admin' = 'reader') => ({
        id, name: `n-${id}`, role, keyHash: `hash-${id}`, createdAt: at, createdBy: 'admin', revokedAt: null, lastUsedAt: null,
      });
      await s.keys.insertKey(key('k2', T0 + 1, 'admin'));
      await s.keys.insertKey(key('k1', T0));
      await assert.rejects(s.keys.insertKey({ ...key('k3', T0), keyHash: 'hash-k1' }), 'a hash is unique');
      assert.deepEqual(await s.keys.findKeyByHash('hash-k2'), key('k2', T0 + 1, 'admin'));
      assert.equal(await s.keys.findKeyByHash('hash-none'), undefined);
      assert.deepEqual((await s.keys.listKeys()).map((k) => k.id), ['k1', 'k2']);
      await s.keys.touchKey('k1', T0 + MIN);
      assert.equal((await s.keys.findKeyByHash('hash-k1'))!.lastUsedAt, T0 + MIN);
      assert.equal(await s.keys.revokeKey('k1', T0 + 2 * MIN), true);
      assert.equal(await s.keys.revokeKey('k1', T0 + 3 * MIN), false, 'revoked once');
      assert.equal(await s.keys.revokeKey('nope', T0), false);
      assert.equal((await s.keys.findKeyByHash('hash-k1'))!.revokedAt, T0 + 2 * MIN);
    }));

    it('audit log: newest first, paged by id', withStore(async (s) => {
      for (let i = 0; i < 5; i++) {
        await s.keys.addAudit({ at: T0 + i, who: i % 2 ? 'unknown' : 'ops', keyId: i % 2 ? null : 'k1', role: i % 2 ? null : 'admin', method: 'POST', route: '/api/tokens', target: `/api/tokens?i=${i}`, status: i % 2 ? 401 : 201, remote: '127.0.0.1' });
      }
      const first = await s.keys.listAudit({ limit: 2 });
      assert.deepEqual(first.map((r) => r.at), [T0 + 4, T0 + 3]);
      assert.deepEqual({ ...first[1]!, id: 0 }, { id: 0, at: T0 + 3, who: 'unknown', keyId: null, role: null, method: 'POST', route: '/api/tokens', target: '/api/tokens?i=3', status: 401, remote: '127.0.0.1' });
      const next = await s.keys.listAudit({ limit: 10, before: first[1]!.id });
      assert.deepEqual(next.map((r) => r.at), [T0 + 2, T0 + 1, T0]);
      assert.equal(next[0]!.keyId, 'k1');
    }));

    it('transaction: commits as one, rolls back everything on error', withStore(async (s) => {
      const events = planEvents(ssh, { detonationId: 'd1', device: { id: 'a1', name: 'h1' }, startTime: T0, seed: 2 }).map((p) => p.event);
      const value = await s.transaction(async (tx) => {
        await tx.events.insertEvents('a1', events.slice(0, 2), T0);
        await tx.alerts.upsertAlert(alert('A1'), MIN);
        return 42;
      });
      assert.equal(value, 42);
      await assert.rejects(s.transaction(async (tx) => {
        assert.equal((await tx.events.insertEvents('a1', events, T0)).length, 8);
        await tx.alerts.upsertAlert(alert('A2'), MIN);
        assert.equal((await tx.alerts.getAlert('A1'))!.count, 2, 'a transaction sees its own writes');
        throw new Error('boom');
      }), /boom/);
      assert.equal(await s.events.countEvents(), 2);
      assert.equal((await s.alerts.getAlert('A1'))!.count, 1);
      assert.equal((await s.events.insertEvents('a1', events, T0)).length, 8, 'rolled-back events are new again');
    }));

    it('OSV advisories (issue 17): stored by id with the packages they affect; only a newer record replaces one', withStore(async (s) => {
      const adv = (id: string, modified: string, names: string[]) => ({ id, modified, importedAt: T0, body: { id, names } });
      const affected = (r: { body: Record<string, unknown> }) => (r.body.names as string[]).map((name) => ({ ecosystem: 'Debian:12', name }));
      assert.deepEqual(await s.vulnerabilities.putAdvisories([adv('DEBIAN-CVE-2024-28757', '2026-09-27T19:38:19Z', ['expat']), adv('DEBIAN-CVE-2025-3576', '2025-05-07T17:06:22Z', ['krb5'])], affected), { stored: 2, unchanged: 0 });
      assert.deepEqual((await s.vulnerabilities.advisoriesFor('Debian:12', ['expat', 'zlib'])).map((r) => r.id), ['DEBIAN-CVE-2024-28757']);
      assert.deepEqual(await s.vulnerabilities.advisoriesFor('Debian:11', ['expat']), [], 'another ecosystem');
      assert.deepEqual(await s.vulnerabilities.putAdvisories([adv('DEBIAN-CVE-2025-3576', '2025-05-07T17:06:22Z', ['krb5', 'expat'])], affected), { stored: 0, unchanged: 1 }, 'same modified: kept');
      assert.deepEqual(await s.vulnerabilities.putAdvisories([adv('DEBIAN-CVE-2025-3576', '2025-06-01T00:00:00Z', ['expat'])], affected), { stored: 1, unchanged: 0 }, 'newer: replaced');
      assert.deepEqual((await s.vulnerabilities.advisoriesFor('Debian:12', ['krb5'])), [], 'the replaced record no longer names krb5');
      const both = await s.vulnerabilities.advisoriesFor('Debian:12', ['expat']);
      assert.deepEqual(both.map((r) => [r.id, r.modified]), [['DEBIAN-CVE-2024-28757', '2026-09-27T19:38:19Z'], ['DEBIAN-CVE-2025-3576', '2025-06-01T00:00:00Z']]);
      assert.deepEqual(both[1]!.body, { id: 'DEBIAN-CVE-2025-3576', names: ['expat'] });
      assert.equal(await s.vulnerabilities.countAdvisories(), 2);
    }));
  });
}

test('PostgreSQL migrations mirror the SQLite ones version for version', () => {
  const versions = (dir: string) => readdirSync(join(import.meta.dirname, '..', '..', 'control-plane', 'store', 'migrations', dir))
    .filter((f) => /^\d+_.+\.sql$/.test(f)).map((f) => f.replace(/\.sql$/, '')).sort();
  assert.deepEqual(versions('postgres'), versions('sqlite'), 'port each migrations/sqlite/NNN_name.sql to migrations/postgres/ under the same name');
});

test('SQLite events: a rowid table, deduplicated by a UNIQUE (ReportId, agent) index, with only the indexes a query reads (migration 014)', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'arcsim.db');
    const store = openSqliteStore({ file });
    assert.deepEqual(await store.migrations(), MIGRATION_VERSIONS);
    await store.close();
    const db = new Database(file, { readonly: true });
    try {
      const table = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'`).get() as { sql: string };
      assert.doesNotMatch(table.sql, /WITHOUT ROWID/i);
      assert.doesNotMatch(table.sql, /PRIMARY KEY/i);
      const indexes = db.prepare(`SELECT name, "unique" AS u, partial FROM pragma_index_list('events') ORDER BY name`).all() as Array<{ name: string; u: number; partial: number }>;
      const columns = (name: string) => (db.prepare(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`).all(name) as Array<{ name: string }>).map((c) => c.name);
      assert.deepEqual(indexes.map((i) => [i.name, columns(i.name), i.u, i.partial]), [
        // The middle column is the expression json_extract(data, '$.ActionType') (migration 023), which has no name.
        ['events_agent_action_ts', ['agent_id', null, 'ts'], 0, 0],
        ['events_agent_tbl_ts', ['agent_id', 'tbl', 'ts'], 0, 0],
        ['events_agent_ts', ['agent_id', 'ts'], 0, 0],
        ['events_detonation', ['detonation_id'], 0, 1],
        ['events_file_certificates', ['ts'], 0, 1],
        ['events_key', ['report_id', 'agent_id'], 1, 0],
        ['events_tbl_ts', ['tbl', 'ts'], 0, 0],
      ]);
      // Each read of the events table is answered by an index, not a scan of every row.
      const plan = (q: string, ...args: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${q}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      assert.match(plan(`SELECT report_id, data FROM events WHERE report_id IN (SELECT value FROM json_each(?))`, '["r"]'), /USING INDEX events_key/);
      assert.match(plan(`SELECT data FROM events WHERE agent_id = ? ORDER BY ts, report_id LIMIT 10`, 'a'), /USING INDEX events_agent_ts/);
      assert.match(plan(`SELECT data FROM events WHERE detonation_id = ? ORDER BY ts, report_id LIMIT 10`, 'd'), /USING INDEX events_detonation/);
      // The portal's device timeline of one table (migration 020).
      assert.match(plan(`SELECT data FROM events WHERE agent_id = ? AND tbl = ? ORDER BY ts DESC, report_id DESC LIMIT 101`, 'a', 'DeviceProcessEvents'), /USING INDEX events_agent_tbl_ts/);
      // ... and of one action type (migration 023): the expression index, with the equality on both its leading columns.
      assert.match(plan(`SELECT data FROM events WHERE agent_id = ? AND json_extract(data, '$.ActionType') = ? ORDER BY ts DESC, report_id DESC LIMIT 101`, 'a', 'FileCreated'),
        /USING INDEX events_agent_action_ts \(agent_id=\? AND <expr>=\?/);
      // The portal's alert reads (migration 023): the overview chart's counts since a time on a covering
      // index; one severity walks (severity, end_time) in time order, so a page needs no sort of every match.
      assert.match(plan(`SELECT CAST((time_generated - ?) / ? AS INTEGER) AS b, severity, COUNT(*) AS n FROM alerts WHERE time_generated >= ? GROUP BY b, severity ORDER BY b`, 0, 1, 0),
        /USING COVERING INDEX alerts_generated/);
      const severityPage = plan(`SELECT a.* FROM alerts a WHERE a.severity = ? ORDER BY a.end_time DESC, a.system_alert_id DESC LIMIT 50 OFFSET 0`, 'High');
      assert.match(severityPage, /USING INDEX alerts_severity_time/);
      assert.doesNotMatch(severityPage, /TEMP B-TREE FOR ORDER BY/);
      // Pages of the whole list, newest first or by name, walk an index that holds the id tie-breaker: no sort of every alert.
      for (const order of [`a.end_time DESC, a.system_alert_id DESC`, `(a.properties ->> '$.alertDisplayName') DESC, a.system_alert_id DESC`]) {
        const page = plan(`SELECT a.* FROM alerts a ORDER BY ${order} LIMIT 50 OFFSET 9950`);
        assert.match(page, /USING INDEX alerts_(end_time_id|name_id)/, order);
        assert.doesNotMatch(page, /TEMP B-TREE/, order);
      }
      assert.match(plan(`SELECT data FROM events WHERE tbl = ? AND ts >= ? ORDER BY ts DESC, report_id DESC LIMIT 10`, 't', 0), /USING INDEX events_tbl_ts/);
      assert.match(plan(`SELECT data FROM events WHERE tbl = 'DeviceFileCertificateInfo' ORDER BY ts DESC, report_id DESC LIMIT 10`), /USING INDEX events_(file_certificates|tbl_ts)/);
    } finally {
      db.close();
    }
  } finally {
    cleanup(dir);
  }
});

test('SQLite scratch store (arcsim detect, without the events indexes of other reads): the same dedup and the same answer to every events read; in memory only', async () => {
  const events = planEvents(ssh, { detonationId: 'd1', device: { id: 'a1', name: 'h1' }, startTime: T0, seed: 1 }).map((p) => p.event);
  const dir = tempDir();
  const full = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const scratch = openSqliteStore({ file: ':memory:', scratch: true });
  try {
    for (const s of [full, scratch]) {
      assert.equal((await s.events.insertEvents('a1', [...events, events[0]!], T0)).length, events.length);
      assert.deepEqual(await s.events.insertEvents('a1', events.slice(0, 2), T0), [], 'the same (agent, ReportId) dedup');
    }
    const reads = async (s: Store) => JSON.stringify([
      await s.events.countEvents({ agentId: 'a1' }), await s.events.listEvents({ detonationId: 'd1', limit: 5 }),
      await s.events.getEvents([events[3]!.ReportId, events[1]!.ReportId]),
      await s.events.scanEvents({ table: events[0]!.Table, from: T0, limit: 3, equals: [{ column: 'DeviceId', values: ['a1'] }] }),
      await s.events.latestFileCertificates(5),
    ]);
    assert.equal(await reads(scratch), await reads(full));
    assert.throws(() => openSqliteStore({ file: join(dir, 'scratch.db'), scratch: true }), /in memory only/);
  } finally {
    await full.close();
    await scratch.close();
    cleanup(dir);
  }
});

/**
 * Issue 13, item 9 (fourth round): a scratch store writes an event's JSON only when a read may
 * return its row. Reads interleaved with inserts (one ReportId read back between batches, as a
 * closing window reads its trigger), a transaction that rolls back after inserting, the same
 * ReportId from another agent and a redelivery must answer exactly as a file store does.
 */
test('SQLite scratch store: events read back between inserts, after a rollback and across agents answer as a file store', async () => {
  const events = planEvents(ssh, { detonationId: 'd1', device: { id: 'a1', name: 'h1' }, startTime: T0, seed: 2 }).map((p) => p.event);
  assert.ok(events.length >= 8, `${events.length} events`);
  const dir = tempDir();
  const full = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const scratch = openSqliteStore({ file: ':memory:', scratch: true });
  const log: Record<string, string[]> = { full: [], scratch: [] };
  try {
    for (const [name, s] of [['full', full], ['scratch', scratch]] as const) {
      const seen = (x: unknown) => log[name]!.push(JSON.stringify(x));
      seen(await s.events.insertEvents('a1', events.slice(0, 3), T0));
      seen(await s.events.getEvents([events[1]!.ReportId]));
      seen(await s.events.insertEvents('a1', events.slice(2, 6), T0));
      // Rolled back: its rows are gone, and a later insert of the same events stores them anew.
      await assert.rejects(s.transaction(async (tx) => {
        await tx.events.insertEvents('a1', events.slice(6), T0);
        seen(await tx.events.getEvents([events[6]!.ReportId]));
        throw new Error('roll back');
      }), /roll back/);
      seen(await s.events.getEvents([events[6]!.ReportId, events[0]!.ReportId]));
      seen(await s.transaction((tx) => tx.events.insertEvents('a1', events.slice(5), T0)));
      // Another agent's event with a ReportId already stored, and a redelivery of it (a second
      // later: rows tied on time and ReportId have no order both stores would agree on).
      const other = { ...events[4]!, DeviceId: 'a2', DeviceName: 'h2', Timestamp: new Date(Date.parse(events[4]!.Timestamp) + 1000).toISOString() };
      seen(await s.events.insertEvents('a2', [other, other], T0));
      seen(await s.events.getEvents([events[4]!.ReportId, events[7]!.ReportId]));
      seen(await s.events.countEvents());
      seen(await s.events.listEvents({ limit: 100 }));
      seen(await s.events.deviceTimeline({ agentId: 'a2', limit: 10 }));
      seen(await s.events.scanEvents({ table: events[0]!.Table, limit: 100 }));
      seen(await s.events.insertEvents('a1', events, T0));
      seen(await s.events.listEvents({ agentId: 'a1', limit: 100 }));
    }
    assert.deepEqual(log.scratch, log.full);
    // The events read back are whole (not the empty text a scratch row holds until then).
    assert.deepEqual(JSON.parse(log.scratch![1]!), [events[1]]);
  } finally {
    await full.close();
    await scratch.close();
    cleanup(dir);
  }
});
