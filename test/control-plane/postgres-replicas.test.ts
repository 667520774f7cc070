import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Agent } from '../../agent/index.ts';
import { createControlPlane, type ControlPlane, type ControlPlaneConfig, type Store } from '../../control-plane/index.ts';
import { openPostgresStore } from '../../control-plane/store/postgres-store.ts';
import type { AlertRow } from '../../control-plane/store/index.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { apiKeyFor, cleanup, enableExtensions, enroll, keyedFetch, MIGRATION_VERSIONS, RawAgent, tempDir, TEST_FACTS } from '../helpers.ts';
import { startTestPostgres } from '../support/postgres.ts';

const library = loadLibrary();
const ssh = library.get('ssh-brute-force-failed')!;
// The endpoint (MDE) scenario of this Linux host's OS: playback is OS-true (issue 17).
const ps = library.get('fileless-attack-linux')!;

const postgres = await startTestPostgres();
after(() => postgres.pg?.stop());

interface Replica {
  cp: ControlPlane;
  store: Store;
  url: string;
}

/** A control plane on its own pool to `connectionString`, on a free loopback port. */
async function replica(t: { after(fn: () => unknown): void }, connectionString: string, config: ControlPlaneConfig = {}): Promise<Replica> {
  const store = await openPostgresStore({ connectionString });
  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1', ...config } });
  const url = await cp.listen();
  t.after(async () => {
    await cp.close();
    await store.close();
  });
  return { cp, store, url };
}

const bruteForce = (agentId: string, detonationId: string, seed: number, startTime = Date.now() - 60_000, inputs = {}): SensorEvent[] =>
  planEvents(ssh, { detonationId, device: { id: agentId, name: 'lab-host-01' }, startTime, seed, inputs }).map((p) => p.event);

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

/** Alerts of a type through a replica's REST API, with a reader key made in the shared database. */
const alertsOfType = async (r: Replica, alertType: string) =>
  (await (await keyedFetch(await apiKeyFor(r))(`${r.url}/api/alerts?alertType=${alertType}`)).json()).value;

describe('PostgreSQL store', () => {
  // Skip each test (not just the suite) so the runner's summary counts what did not run.
  const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(name, { skip: postgres.skip }, fn);

  it('full path on PostgreSQL: an agent plays both library scenarios; each alert exists once; redelivery stores nothing twice', async (t) => {
    const db = await postgres.pg!.createDatabase();
    const r = await replica(t, db);
    assert.deepEqual((await (await fetch(`${r.url}/api/health`)).json()).store, 'postgres');
    const token = await r.cp.createToken({ subscription: 'sub-pg', resourceGroup: 'rg-pg' });
    const dir = tempDir();
    t.after(() => cleanup(dir));
    const agent = new Agent({ controlPlane: r.url, token: token.token, stateDir: join(dir, 'agent'), facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }) });
    t.after(() => agent.stop());
    const registered = agent.waitRegistered();
    await agent.start();
    await registered;
    // Agents collect nothing without a sensor extension (MDE for the Device* tables).
    await enableExtensions(r.cp, agent.agentId!);
    const play = async (scenario: typeof ssh, variant: 'attack' | 'benign') => {
      const detonationId = randomUUID();
      const res = await r.cp.command(agent.agentId!, { action: 'run-scenario', scenario: scenario as any, variant, detonationId });
      assert.ok(res.ok, res.message);
      assert.equal(await r.store.events.countEvents({ detonationId }), res.events, 'every played event is stored');
      return detonationId;
    };
    const d1 = await play(ssh, 'attack');
    const d2 = await play(ps, 'attack');
    const b1 = await play(ssh, 'benign');
    const alerts = await r.store.alerts.listAlerts();
    assert.deepEqual(alerts.map((a) => a.alertType).sort(), ['VM_FilelessAttackTechnique.Linux', 'VM_SshBruteForceFailed']);
    assert.deepEqual((await r.store.alerts.listAlerts({ detonationId: d1 })).map((a) => [a.alertType, a.count]), [['VM_SshBruteForceFailed', 1]]);
    assert.deepEqual((await r.store.alerts.listAlerts({ detonationId: d2 })).map((a) => [a.alertType, a.count]), [['VM_FilelessAttackTechnique.Linux', 1]]);
    assert.equal((await r.store.alerts.listAlerts({ detonationId: b1 })).length, 0, 'the benign twin raises nothing');
    const api = (await (await keyedFetch(await apiKeyFor(r))(`${r.url}/api/alerts`)).json()).value;
    assert.equal(api.length, 2);
    const bf = api.find((a: any) => a.properties.alertType === 'VM_SshBruteForceFailed');
    assert.equal(bf.properties.extendedProperties.detonationIds, d1);
    assert.ok(bf.properties.entities.some((e: any) => e.type === 'ip' && e.address === '203.0.113.45'));

    // A second agent on the raw protocol: a batch sent twice (lost ack) stores and raises nothing the second time.
    const creds = await enroll(r.url, token.token, 'lab-host-02');
    const raw = await RawAgent.connect(r.url, creds);
    t.after(() => raw.close());
    await raw.register({ ...TEST_FACTS, hostname: 'lab-host-02' });
    const frame = JSON.stringify({ v: 1, type: 'events', seq: 1, events: bruteForce(creds.agentId, 'd-replay', 7) });
    raw.send(frame);
    assert.deepEqual(await raw.next('ack'), { v: 1, type: 'ack', seq: 1, stored: 10 });
    raw.send(frame);
    assert.deepEqual(await raw.next('ack'), { v: 1, type: 'ack', seq: 1, stored: 0 });
    assert.equal(await r.store.events.countEvents({ agentId: creds.agentId }), 10);
    const replayed = await r.store.alerts.listAlerts({ detonationId: 'd-replay' });
    assert.deepEqual(replayed.map((a) => a.count), [1]);
    assert.equal((await r.store.alerts.alertEvents(replayed[0]!.systemAlertId)).length, 10);
  });

  it('replicas agree: failover mid-attack from replica A to B, with a redelivered batch, gives one alert and one incident', async (t) => {
    const db = await postgres.pg!.createDatabase();
    // Both replicas start together on a fresh database: migrations are applied once.
    const [a, b] = await Promise.all([replica(t, db, { sync: { profile: 'xdr-unified' } }), replica(t, db, { sync: { profile: 'xdr-unified' } })]);
    assert.deepEqual(await a.store.migrations(), MIGRATION_VERSIONS);
    assert.deepEqual(await b.store.migrations(), MIGRATION_VERSIONS);
    const token = await a.cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
    const creds = await enroll(b.url, token.token); // a token made on A is good on B

    const round1 = bruteForce(creds.agentId, 'd-round-1', 11);
    const onA = await RawAgent.connect(a.url, creds);
    await onA.register();
    onA.send({ v: 1, type: 'events', seq: 1, events: round1.slice(0, 6) });
    assert.equal((await onA.next('ack')).stored, 6);
    assert.equal((await a.store.alerts.listAlerts()).length, 0, 'six failed logons: below the threshold');
    onA.close(); // replica A goes away; the agent fails over to B
    await onA.closed;

    const onB = await RawAgent.connect(b.url, creds);
    t.after(() => onB.close());
    const reg = await onB.register();
    assert.match(reg.machineId, /machines\/lab-host-01$/, 'same machine, same resource id');
    onB.send({ v: 1, type: 'events', seq: 1, events: round1.slice(0, 6) }); // its ack from A was "lost": resent
    onB.send({ v: 1, type: 'events', seq: 2, events: round1.slice(6) });
    assert.equal((await onB.next('ack')).stored, 0);
    assert.equal((await onB.next('ack')).stored, 4);

    // B counted A's six hits: the correlation window lives in the database.
    const [alert] = await b.store.alerts.listAlerts();
    assert.ok(alert, 'the tenth failed logon raises the alert on B');
    assert.deepEqual(await a.store.alerts.listAlerts(), await b.store.alerts.listAlerts(), 'both replicas read the same alerts');
    assert.equal(alert.count, 1);
    assert.equal((await a.store.alerts.alertEvents(alert.systemAlertId)).length, 10);
    assert.equal(await a.store.events.countEvents(), 10);

    // A second round within the dedup window, this time on B then A: folded into the same alert.
    const round2 = bruteForce(creds.agentId, 'd-round-2', 12);
    onB.send({ v: 1, type: 'events', seq: 3, events: round2.slice(0, 3) });
    await onB.next('ack');
    const backOnA = await RawAgent.connect(a.url, creds);
    t.after(() => backOnA.close());
    await backOnA.register();
    backOnA.send({ v: 1, type: 'events', seq: 4, events: round2.slice(3) });
    assert.equal((await backOnA.next('ack')).stored, 7);
    const alerts = await alertsOfType(a, 'VM_SshBruteForceFailed');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].properties.extendedProperties.count, '2');
    assert.deepEqual(alerts[0].properties.extendedProperties.detonationIds.split(',').sort(), ['d-round-1', 'd-round-2']);
    assert.equal(await b.store.events.countEvents(), 20);
    const incidents = await b.store.incidents.listIncidents();
    assert.equal(incidents.length, 1);
    assert.deepEqual(await b.store.incidents.incidentAlertIds(incidents[0]!.incidentId), [alert.systemAlertId]);
  });

  it('replicas agree under concurrency: one agent sends its events to both replicas in opposite orders, two hosts attacked at once from one IP', async (t) => {
    const db = await postgres.pg!.createDatabase();
    const [a, b] = await Promise.all([replica(t, db, { sync: { profile: 'xdr-unified' } }), replica(t, db, { sync: { profile: 'xdr-unified' } })]);
    const token = await a.cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
    const host1 = await enroll(a.url, token.token, 'host-1');
    const host2 = await enroll(b.url, token.token, 'host-2');
    // host-1 is connected to both replicas at once (a half-open failover) and sends every batch to both.
    const h1a = await RawAgent.connect(a.url, host1);
    const h1b = await RawAgent.connect(b.url, host1);
    const h2b = await RawAgent.connect(b.url, host2);
    t.after(() => { h1a.close(); h1b.close(); h2b.close(); });
    await Promise.all([h1a.register({ ...TEST_FACTS, hostname: 'host-1' }), h1b.register({ ...TEST_FACTS, hostname: 'host-1' }), h2b.register({ ...TEST_FACTS, hostname: 'host-2' })]);

    // Both hosts attacked by 203.0.113.45, within one incident window. host-1 sends one event per
    // batch to both replicas in opposite orders: each event is new on exactly one of them, and the
    // two replicas count the same correlation window at the same time. host-2 sends batches of two.
    const e1 = bruteForce(host1.agentId, 'd-host-1', 21);
    const e2 = bruteForce(host2.agentId, 'd-host-2', 22);
    e1.forEach((event, i) => {
      h1a.send({ v: 1, type: 'events', seq: i + 1, events: [event] });
      h1b.send({ v: 1, type: 'events', seq: i + 1, events: [e1[e1.length - 1 - i]] });
    });
    for (let i = 0; i < e2.length / 2; i++) h2b.send({ v: 1, type: 'events', seq: i + 1, events: e2.slice(2 * i, 2 * i + 2) });
    const acks = (conn: RawAgent, n: number) => Promise.all(Array.from({ length: n }, () => conn.next('ack', 15_000)));
    const [a1, b1, b2] = await Promise.all([acks(h1a, 10), acks(h1b, 10), acks(h2b, 5)]);
    const stored = (xs: Array<Record<string, any>>) => xs.reduce((n, x) => n + x.stored, 0);
    assert.equal(stored(a1) + stored(b1), 10, 'host-1: each event stored by exactly one replica');
    assert.equal(stored(b2), 10);
    assert.equal(await a.store.events.countEvents(), 20);

    const alerts = await a.store.alerts.listAlerts({ alertType: 'VM_SshBruteForceFailed' });
    assert.deepEqual(alerts.map((x) => [x.resourceId.split('/').pop(), x.count]).sort(), [['host-1', 1], ['host-2', 1]], 'one alert per host, counted once');
    for (const x of alerts) assert.equal((await a.store.alerts.alertEvents(x.systemAlertId)).length, 10);
    const incidents = (await b.store.incidents.listIncidents()).filter((i) => !i.redirectedTo);
    assert.equal(incidents.length, 1, 'the shared attacker IP puts both alerts in one incident');
    assert.deepEqual((await b.store.incidents.incidentAlertIds(incidents[0]!.incidentId)).sort(), alerts.map((x) => x.systemAlertId).sort());
  });

  it('arcsim control-plane --store postgres://... (and ARCSIM_STORE_URL) serves from PostgreSQL', async (t) => {
    const db = await postgres.pg!.createDatabase();
    const dataDir = tempDir();
    t.after(() => cleanup(dataDir));
    const start = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const child = spawn(process.execPath, [BIN, 'control-plane', '--port', '0', '--data-dir', dataDir, ...args], { env: { ...process.env, ...env } });
      t.after(() => child.kill());
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      // Up to 30 s: a CLI start (tsx transpiling the sources) took over 10 s on a loaded 2-core machine.
      for (let i = 0; i < 600 && !/listening on (\S+)/.test(out) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
      const url = /listening on (\S+)/.exec(out)?.[1];
      assert.ok(url, `control plane did not start: ${out}`);
      return { url, out, child };
    };
    // Meanwhile (in parallel, to save a CLI start-up): an unreachable store refuses to start.
    const refusal = new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'control-plane', '--port', '0', '--store', 'postgres://arcsim:s3cret@127.0.0.1:9/arcsim']);
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('exit', (status) => resolve({ status, stderr }));
    });
    const viaFlag = await start(['--store', db]);
    assert.match(viaFlag.out, /\(store: postgres:\/\/arcsim@127\.0\.0\.1:\d+\/arcsim_test_\d+\)/);
    assert.match(viaFlag.out, /Admin API key/, 'first start on this database: a new admin key');
    assert.equal((await (await fetch(`${viaFlag.url}/api/health`)).json()).store, 'postgres');
    const viaEnv = await start([], { ARCSIM_STORE_URL: db });
    assert.equal((await (await fetch(`${viaEnv.url}/api/health`)).json()).store, 'postgres');
    assert.doesNotMatch(viaEnv.out, /Admin API key/, 'the second replica shares the key already in the database');
    for (const c of [viaFlag.child, viaEnv.child]) {
      c.kill('SIGTERM');
      if (c.exitCode === null) await once(c, 'exit');
    }
    const refused = await refusal;
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /ARCSIM_E_STORE_UNAVAILABLE: .*127\.0\.0\.1:9\/arcsim/);
    assert.doesNotMatch(refused.stderr, /s3cret/);
  });

  it('dedup race: concurrent upserts of one key through two pools make one alert whose count is the number of calls', async () => {
    const db = await postgres.pg!.createDatabase();
    const [s1, s2] = await Promise.all([openPostgresStore({ connectionString: db }), openPostgresStore({ connectionString: db })]);
    try {
      const T0 = Date.UTC(2026, 5, 1);
      const candidate = (i: number): AlertRow => ({
        systemAlertId: `alert-${i}`, dedupKey: 'race', alertType: 'VM_SshBruteForceFailed', ruleId: 'r', agentId: 'a', resourceId: '/m',
        severity: 'Medium', status: 'Active', count: 1, startTime: T0 + i, endTime: T0 + i, timeGenerated: T0, updatedAt: T0, latencyMs: null, properties: {},
      });
      const n = 40;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? s1 : s2).alerts.upsertAlert(candidate(i), 60_000)));
      assert.equal(results.filter((r) => r.created).length, 1, 'exactly one call created the alert');
      const alerts = await s1.alerts.listAlerts();
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]!.count, n);
      assert.deepEqual([alerts[0]!.startTime, alerts[0]!.endTime], [T0, T0 + n - 1]);
      assert.ok(results.every((r) => r.alert.systemAlertId === alerts[0]!.systemAlertId));
      // The same inside caller transactions on both pools.
      const more = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? s1 : s2).transaction((tx) => tx.alerts.upsertAlert(candidate(n + i), 60_000))));
      assert.equal(more.filter((r) => r.created).length, 0);
      assert.equal((await s2.alerts.getAlert(alerts[0]!.systemAlertId))!.count, 2 * n);
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('incident refreshes: two replicas refreshing different incidents do not wait for each other; the same incident, they take turns', async () => {
    const db = await postgres.pg!.createDatabase();
    const [s1, s2] = await Promise.all([openPostgresStore({ connectionString: db }), openPostgresStore({ connectionString: db })]);
    // s1 starts refreshing incident X (refreshIncident's read, under its lock) and holds its transaction open.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reading!: () => void;
    const started = new Promise<void>((resolve) => (reading = resolve));
    const first = s1.transaction(async (tx) => {
      await tx.incidents.incidentAlertSpans('X');
      reading();
      await held;
    });
    try {
      await started;
      // Meanwhile s2 refreshes incident Y: it must not queue behind s1's open transaction (every fold
      // refreshes its incident, so one lock for all incidents made replicas commit one at a time).
      const other = await Promise.race([
        s2.transaction((tx) => tx.incidents.incidentAlertSpans('Y')).then(() => 'done'),
        new Promise((resolve) => setTimeout(resolve, 10_000, 'waited for the other incident')),
      ]);
      assert.equal(other, 'done');
      // Incident X itself: s2's refresh waits for s1's commit, so it reads every alert s1 committed.
      let sameDone = false;
      const same = s2.transaction((tx) => tx.incidents.incidentAlertSpans('X')).then(() => { sameDone = true; });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(sameDone, false, 'the same incident waits for the transaction refreshing it');
      release();
      await first;
      await same;
      assert.equal(sameDone, true);
    } finally {
      release(); // a failed assertion still ends s1's transaction, so the pools can close
      await first;
      await s1.close();
      await s2.close();
    }
  });

  it('a deadlock between replicas is rolled back and the losing transaction runs again', async () => {
    const db = await postgres.pg!.createDatabase();
    const [s1, s2] = await Promise.all([openPostgresStore({ connectionString: db }), openPostgresStore({ connectionString: db })]);
    try {
      const T0 = Date.UTC(2026, 5, 1);
      for (const id of ['X', 'Y']) {
        await s1.alerts.upsertAlert({
          systemAlertId: id, dedupKey: id, alertType: 't', ruleId: 'r', agentId: 'a', resourceId: '/m', severity: 'Low', status: 'Active',
          count: 1, startTime: T0, endTime: T0, timeGenerated: T0, updatedAt: T0, latencyMs: null, properties: {},
        }, 1);
      }
      // Each transaction locks one alert row, waits until the other has too, then wants the other's row.
      let arrived = 0;
      let bothLocked!: () => void;
      const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
      const runs = { s1: 0, s2: 0 };
      const crossed = (store: Store, name: 's1' | 's2', first: string, second: string, status: 'InProgress' | 'Resolved') =>
        store.transaction(async (tx) => {
          runs[name]++;
          await tx.alerts.setAlertStatus(first, status, T0 + 1);
          if (++arrived === 2) bothLocked();
          await barrier;
          await tx.alerts.setAlertStatus(second, status, T0 + 1);
          return name;
        });
      assert.deepEqual(await Promise.all([crossed(s1, 's1', 'X', 'Y', 'InProgress'), crossed(s2, 's2', 'Y', 'X', 'Resolved')]), ['s1', 's2']);
      assert.equal(runs.s1 + runs.s2, 3, 'PostgreSQL aborted one of them for the deadlock, and it ran again');
      const winner = runs.s1 === 2 ? 'Resolved' : 'InProgress'; // the one that ran once committed first
      const statuses = [(await s1.alerts.getAlert('X'))!.status, (await s1.alerts.getAlert('Y'))!.status];
      assert.equal(statuses[0], statuses[1], 'the retried transaction applied both of its writes');
      assert.notEqual(statuses[0], winner, 'and committed last');
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('upgrade: a database at versions 1 and 4 (the first PostgreSQL port) gets 2, 5 and 6; its machines gain empty tags and counts', async () => {
    const db = await postgres.pg!.createDatabase();
    const dir = join(import.meta.dirname, '..', '..', 'control-plane', 'store', 'migrations', 'postgres');
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      // The schema as the first port left it, with one machine on it.
      await client.query(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      for (const [version, name] of [[1, '001_init.sql'], [4, '004_products_incidents.sql']] as const) {
        await client.query(readFileSync(join(dir, name), 'utf8'));
        await client.query(`INSERT INTO schema_migrations VALUES ($1, $2, 0)`, [version, name]);
      }
      await client.query(`INSERT INTO enrollment_tokens (id, token_hash, subscription, resource_group, location, created_at, expires_at) VALUES ('t1', 'h1', 's', 'rg', 'l', 0, 1)`);
      await client.query(`INSERT INTO agents (agent_id, key_hash, token_id, subscription, resource_group, location, enrolled_at) VALUES ('a1', 'k', 't1', 's', 'rg', 'l', 0)`);
      await client.query(`INSERT INTO machines (agent_id, resource_id, name, facts, status, last_heartbeat, last_status_change, registered_at)
                          VALUES ('a1', '/machines/m1', 'm1', $1, 'Connected', 0, 0, 0)`, [JSON.stringify(TEST_FACTS)]);
    } finally {
      await client.end();
    }
    const store = await openPostgresStore({ connectionString: db });
    try {
      assert.deepEqual(await store.migrations(), MIGRATION_VERSIONS);
      const m = (await store.machines.getMachine('a1'))!;
      assert.deepEqual([m.tags, m.notCollected, m.extensions], [{}, {}, []]);
      await store.machines.addNotCollected('a1', { SqlEvents: 3 });
      assert.deepEqual((await store.machines.getMachine('a1'))!.notCollected, { SqlEvents: 3 });
    } finally {
      await store.close();
    }
  });
});

test('an unreachable PostgreSQL store fails start-up with ARCSIM_E_STORE_UNAVAILABLE and no password in the message', async () => {
  // Port 9 (discard) on loopback: nothing listens there in a test environment.
  await assert.rejects(openPostgresStore({ connectionString: 'postgres://arcsim:s3cret@127.0.0.1:9/arcsim', connectTimeoutMs: 2000 }), (err: any) => {
    assert.equal(err.code, 'ARCSIM_E_STORE_UNAVAILABLE');
    assert.match(err.message, /127\.0\.0\.1:9\/arcsim/);
    assert.doesNotMatch(err.message, /s3cret/);
    return true;
  });
});
