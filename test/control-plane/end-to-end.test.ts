import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { Agent } from '../../agent/index.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { apiKeyFor, cleanup, enableExtensions, enroll, keyedFetch, MIGRATION_VERSIONS, RawAgent, startControlPlane, TEST_FACTS } from '../helpers.ts';

const library = loadLibrary();
const ssh = library.get('ssh-brute-force-failed')!;
// The endpoint (MDE) scenario of this Linux host's OS: playback is OS-true.
const ps = library.get('fileless-attack-linux')!;

test('agent -> control plane -> one deduplicated alert per scenario, over a real socket and SQLite file', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-e2e', resourceGroup: 'rg-e2e' });
  const stateDir = join(env.dir, 'agent');
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir, facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }) });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  const reg = await registered;
  await enableExtensions(env.cp, agent.agentId!);
  assert.equal(reg.machineId, '/subscriptions/sub-e2e/resourceGroups/rg-e2e/providers/Microsoft.HybridCompute/machines/lab-host-01');
  // Identity kept with owner-only permissions.
  assert.equal(statSync(join(stateDir, 'identity.json')).mode & 0o777, 0o600);

  const play = async (scenario: typeof ssh, variant: 'attack' | 'benign') => {
    const detonationId = randomUUID();
    const r = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: scenario as any, variant, detonationId });
    assert.ok(r.ok, r.message);
    assert.equal(await env.store.events.countEvents({ detonationId }), r.events, 'every played event is stored');
    return detonationId;
  };

  const d1 = await play(ssh, 'attack');
  const d2 = await play(ps, 'attack');
  const b1 = await play(ssh, 'benign');
  const b2 = await play(ps, 'benign');

  const authed = keyedFetch(await apiKeyFor(env));
  const alerts = (await (await authed(`${env.url}/api/alerts`)).json()).value;
  assert.deepEqual(alerts.map((a: any) => a.properties.alertType).sort(), ['VM_FilelessAttackTechnique.Linux', 'VM_SshBruteForceFailed']);
  const bf = alerts.find((a: any) => a.properties.alertType === 'VM_SshBruteForceFailed');
  assert.equal(bf.properties.alertDisplayName, 'Failed SSH brute force attack');
  assert.equal(bf.properties.severity, 'Medium');
  assert.equal(bf.properties.intent, 'Probing');
  assert.equal(bf.properties.status, 'Active');
  assert.equal(bf.properties.extendedProperties.count, '1');
  assert.equal(bf.properties.extendedProperties.detonationIds, d1);
  assert.equal(bf.properties.resourceIdentifiers[0].azureResourceId, reg.machineId);
  assert.match(bf.id, /^\/subscriptions\/sub-e2e\/resourceGroups\/rg-e2e\/providers\/Microsoft\.Security\/locations\/eastus\/alerts\//);
  assert.ok(bf.properties.entities.some((e: any) => e.type === 'ip' && e.address === '203.0.113.45'));
  // alertUri resolves through the REST API.
  const self = await (await authed(bf.properties.alertUri)).json();
  assert.equal(self.properties.systemAlertId, bf.properties.systemAlertId);
  const psAlert = alerts.find((a: any) => a.properties.alertType === 'VM_FilelessAttackTechnique.Linux');
  assert.equal(psAlert.properties.extendedProperties.detonationIds, d2);
  assert.equal(psAlert.properties.alertDisplayName, 'Fileless Attack Technique Detected');

  for (const b of [b1, b2]) assert.equal((await env.store.alerts.listAlerts({ detonationId: b })).length, 0, 'benign twins raise nothing');

  // Filters.
  const medium = (await (await authed(`${env.url}/api/alerts?severity=Medium&status=Active`)).json()).value;
  assert.equal(medium.length, 1);
  assert.equal((await (await authed(`${env.url}/api/alerts?severity=High`)).json()).value.length, 1);
  const bad = await authed(`${env.url}/api/alerts?severity=Severe`);
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).code, 'ARCSIM_E_VALIDATION');

  // A second play folds into the same alerts: counts go up, no new alert.
  const d3 = await play(ssh, 'attack');
  await play(ps, 'attack');
  const again = (await (await authed(`${env.url}/api/alerts`)).json()).value;
  assert.equal(again.length, 2);
  for (const a of again) assert.equal(a.properties.extendedProperties.count, '2');
  const bf2 = again.find((a: any) => a.properties.alertType === 'VM_SshBruteForceFailed');
  assert.deepEqual(bf2.properties.extendedProperties.detonationIds.split(',').sort(), [d1, d3].sort());

  // Machines are ARM-shaped and Connected.
  const machines = (await (await authed(`${env.url}/api/machines`)).json()).value;
  assert.equal(machines.length, 1);
  assert.equal(machines[0].type, 'Microsoft.HybridCompute/machines');
  assert.equal(machines[0].properties.status, 'Connected');
  assert.equal(machines[0].properties.vmUuid, TEST_FACTS.vmUuid);
  assert.equal(machines[0].properties.detectedProperties.logicalCoreCount, '4');

  // The store is SQLite in WAL mode, with its migrations recorded.
  const db = new Database(env.dbFile, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), MIGRATION_VERSIONS);
  db.close();
});

test('a redelivered batch stores nothing twice and raises nothing twice', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const creds = await enroll(env.url, token.token);
  const a = await RawAgent.connect(env.url, creds);
  t.after(() => a.close());
  await a.register();
  const events = planEvents(ssh, { detonationId: 'd-replay', device: { id: creds.agentId, name: 'lab-host-01' }, startTime: Date.UTC(2026, 5, 1), seed: 7 }).map((p) => p.event);
  const frame = JSON.stringify({ v: 1, type: 'events', seq: 1, events });
  a.send(frame);
  assert.deepEqual(await a.next('ack'), { v: 1, type: 'ack', seq: 1, stored: 10 });
  const before = await env.store.alerts.listAlerts();
  assert.equal(before.length, 1);
  a.send(frame); // the same batch again, as after a lost ack
  assert.deepEqual(await a.next('ack'), { v: 1, type: 'ack', seq: 1, stored: 0 });
  assert.equal(await env.store.events.countEvents(), 10);
  const after = await env.store.alerts.listAlerts();
  assert.equal(after.length, 1);
  assert.equal(after[0]!.count, 1, 'a redelivery is not a new occurrence');
});

test('count rule: nine failed logons raise nothing, the tenth raises the alert; windows follow event time', async (t) => {
  // The tenth event arrives 19 minutes (event time) after the newest one: within a 30-minute lateness.
  const env = await startControlPlane({ config: { lateness: '30m' } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const creds = await enroll(env.url, token.token);
  const a = await RawAgent.connect(env.url, creds);
  t.after(() => a.close());
  await a.register();
  const device = { id: creds.agentId, name: 'lab-host-01' };
  const base = Date.UTC(2026, 5, 1);
  const nine = planEvents(ssh, { detonationId: 'd9', device, startTime: base, inputs: { attempts: 9 } }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 1, events: nine });
  await a.next('ack');
  assert.equal((await env.store.alerts.listAlerts()).length, 0);
  // One more, but 20 minutes later in event time: outside the 10-minute window, still nothing.
  const late = planEvents(ssh, { detonationId: 'd-late', device, startTime: base + 20 * 60_000, inputs: { attempts: 1 }, seed: 2 }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 2, events: late });
  await a.next('ack');
  assert.equal((await env.store.alerts.listAlerts()).length, 0);
  // One more inside the first window (delivered out of order): the tenth, so the alert fires.
  const tenth = planEvents(ssh, { detonationId: 'd-10', device, startTime: base + 60_000, inputs: { attempts: 1 }, seed: 3 }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 3, events: tenth });
  await a.next('ack');
  const alerts = await env.store.alerts.listAlerts();
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.alertType, 'VM_SshBruteForceFailed');
  assert.equal((await env.store.alerts.alertEvents(alerts[0]!.systemAlertId)).length, 10);
});

test('agents far apart in event time do not prune each other\'s correlation windows', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const hosts: Array<{ creds: { agentId: string; agentKey: string }; a: RawAgent; name: string }> = [];
  for (const name of ['ahead', 'behind']) {
    const creds = await enroll(env.url, token.token, name);
    const a = await RawAgent.connect(env.url, creds);
    t.after(() => a.close());
    await a.register({ ...TEST_FACTS, hostname: name });
    hosts.push({ creds, a, name });
  }
  const base = Date.UTC(2026, 5, 1);
  const burst = (h: (typeof hosts)[number], startTime: number) =>
    planEvents(ssh, { detonationId: `d-${h.name}`, device: { id: h.creds.agentId, name: h.name }, startTime, seed: 11 }).map((p) => p.event);
  // "ahead" reports two hours later in event time (e.g. the other one flushes an old spool).
  const [ahead, behind] = hosts as [(typeof hosts)[number], (typeof hosts)[number]];
  ahead.a.send({ v: 1, type: 'events', seq: 1, events: burst(ahead, base + 2 * 3_600_000) });
  await ahead.a.next('ack');
  const late = burst(behind, base);
  behind.a.send({ v: 1, type: 'events', seq: 1, events: late.slice(0, 5) });
  await behind.a.next('ack');
  ahead.a.send({ v: 1, type: 'events', seq: 2, events: burst(ahead, base + 3 * 3_600_000).map((e) => ({ ...e, ReportId: uuidv7() })) });
  await ahead.a.next('ack');
  behind.a.send({ v: 1, type: 'events', seq: 2, events: late.slice(5) });
  await behind.a.next('ack');
  const alerts = await env.store.alerts.listAlerts({ alertType: 'VM_SshBruteForceFailed' });
  assert.deepEqual(alerts.map((a) => a.resourceId.split('/').pop()).sort(), ['ahead', 'behind']);
});
