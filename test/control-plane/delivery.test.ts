import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createControlPlane, openSqliteStore } from '../../control-plane/index.ts';
import { ManualClock } from '../../lib/clock.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { cleanup, enroll, RawAgent, tempDir, TEST_FACTS } from '../helpers.ts';
import { faultyStore } from '../support/faulty-store.ts';

const ssh = loadLibrary().get('ssh-brute-force-failed')!;

/** A control plane on a real SQLite file whose writes can be made to fail (see faultyStore), on a loopback port. */
async function start(t: { after(fn: () => unknown): void }) {
  const dir = tempDir();
  const real = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const faults = faultyStore(real);
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 10));
  const cp = createControlPlane({ store: faults.store, clock, config: { port: 0, host: '127.0.0.1' } });
  const url = await cp.listen();
  t.after(async () => { await cp.close(); await real.close(); cleanup(dir); });
  const token = (await cp.createToken({ subscription: 's', resourceGroup: 'rg' })).token;
  return { cp, url, faults, clock, token, real };
}

async function get(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

test('a batch the store cannot commit gets a retryable ARCSIM_E_STORE_WRITE naming its seq (not ARCSIM_E_INTERNAL); health is 503 with the cause until the next commit', async (t) => {
  const env = await start(t);
  const creds = await enroll(env.url, env.token);
  const a = await RawAgent.connect(env.url, creds);
  t.after(() => a.close());
  await a.register();
  const events = planEvents(ssh, { detonationId: 'd1', device: { id: creds.agentId, name: 'h' }, startTime: env.clock.now(), seed: 1 }).map((p) => p.event);

  env.faults.fail('SQLITE_FULL');
  a.send({ v: 1, type: 'events', seq: 7, events });
  const nack = await a.next('error');
  assert.deepEqual([nack.code, nack.ref, nack.retryable], ['ARCSIM_E_STORE_WRITE', 7, true]);
  assert.ok(nack.retryAfterMs >= 1, 'an advised retry delay');
  assert.match(nack.message, /disk full \(SQLITE_FULL\)/);
  assert.equal(await env.real.events.countEvents(), 0, 'nothing of the batch was stored');

  const degraded = await get(`${env.url}/api/health`);
  assert.equal(degraded.status, 503);
  assert.equal(degraded.body.status, 'degraded');
  assert.deepEqual(degraded.body.reasons, ['store: disk full (SQLITE_FULL) since 2026-06-01T10:00:00.000Z']);
  assert.doesNotMatch(JSON.stringify(degraded.body), /arcsim\.db|\/tmp\//, 'no paths');

  // Still failing, a minute later: the reason keeps the time the fault began.
  env.clock.advance(60_000);
  env.faults.fail('SQLITE_BUSY');
  a.send({ v: 1, type: 'events', seq: 7, events });
  assert.equal((await a.next('error')).message.includes('database locked (SQLITE_BUSY)'), true);
  assert.deepEqual((await get(`${env.url}/api/health`)).body.reasons, ['store: database locked (SQLITE_BUSY) since 2026-06-01T10:00:00.000Z']);

  // The cause clears: the same batch, resent on the same socket, is stored once and acked.
  env.faults.heal();
  a.send({ v: 1, type: 'events', seq: 7, events });
  assert.deepEqual(await a.next('ack'), { v: 1, type: 'ack', seq: 7, stored: events.length });
  const ok = await get(`${env.url}/api/health`);
  assert.deepEqual([ok.status, ok.body.status, ok.body.reasons], [200, 'ok', undefined]);
  assert.equal(await env.real.events.countEvents(), events.length);
});

test('readiness: 200 once listening with a migrated store; 503 with the reason when the store does not answer or the server is closing', async (t) => {
  const env = await start(t);
  const ready = await get(`${env.url}/api/ready`);
  assert.deepEqual([ready.status, ready.body], [200, { status: 'ready' }]);

  // A store that no longer answers (a PostgreSQL that went away): reads throw too.
  const original = env.faults.store.migrations;
  Object.defineProperty(env.faults.store, 'migrations', { value: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' })), configurable: true });
  const down = await get(`${env.url}/api/ready`);
  assert.equal(down.status, 503);
  assert.deepEqual(down.body, { status: 'not-ready', reasons: ['store: not answering (ECONNREFUSED)'] });
  assert.doesNotMatch(JSON.stringify(down.body), /10\.0\.0\.5/, 'no hosts');
  Object.defineProperty(env.faults.store, 'migrations', { value: original, configurable: true });

  // Built but not listening: it accepts no agents yet.
  const idle = createControlPlane({ store: env.faults.store, config: { port: 0, host: '127.0.0.1' } });
  t.after(() => idle.close());
  const res = await idle.app.inject({ method: 'GET', url: '/api/ready' });
  assert.equal(res.statusCode, 503);
  assert.deepEqual(JSON.parse(res.body).reasons, ['gateway: not accepting agent connections']);
  const health = await idle.app.inject({ method: 'GET', url: '/api/health' });
  assert.equal(health.statusCode, 200, 'health is about writes; readiness about accepting agents');
});

test("an agent's spool drop total, sent in heartbeats, is shown on its machine and in the agents list", async (t) => {
  const env = await start(t);
  const creds = await enroll(env.url, env.token);
  const a = await RawAgent.connect(env.url, creds);
  t.after(() => a.close());
  await a.register({ ...TEST_FACTS, hostname: 'drop-host' });
  a.send({ v: 1, type: 'heartbeat', time: new Date(env.clock.now()).toISOString(), droppedEvents: 2000 });
  // Frames are handled in order: once this batch is acked, the heartbeat is recorded.
  const events = planEvents(ssh, { detonationId: 'd1', device: { id: creds.agentId, name: 'h' }, startTime: env.clock.now(), seed: 1 }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 1, events });
  await a.next('ack');
  const machine = await env.cp.adminRequest('GET', '/api/machines/drop-host');
  assert.equal(machine.status, 200);
  assert.equal(machine.body.arcsim.droppedEvents, 2000);
  const agents = await env.cp.adminRequest('GET', '/api/agents');
  assert.equal(agents.body.value.find((x: { agentId: string }) => x.agentId === creds.agentId).droppedEvents, 2000);
});

test('store faults are told from bugs: a full disk, a locked database or a PostgreSQL that went away are retryable causes; anything else is not', async () => {
  const { storeFault } = await import('../../control-plane/health/store-health.ts');
  const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  // Codes as better-sqlite3, node:fs and node-postgres report them.
  assert.equal(storeFault(err('SQLITE_FULL', 'database or disk is full')), 'disk full (SQLITE_FULL)');
  assert.equal(storeFault(err('ENOSPC')), 'disk full (ENOSPC)');
  assert.equal(storeFault(err('SQLITE_BUSY', 'database is locked')), 'database locked (SQLITE_BUSY)');
  assert.equal(storeFault(err('SQLITE_IOERR_WRITE')), 'disk I/O error (SQLITE_IOERR_WRITE)');
  assert.equal(storeFault(err('53100', 'could not extend file')), 'disk full (PostgreSQL 53100)');
  assert.equal(storeFault(err('57P01', 'terminating connection due to administrator command')), 'database unavailable (PostgreSQL 57P01)');
  assert.equal(storeFault(err('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:5432')), 'database unreachable (ECONNREFUSED)');
  assert.equal(storeFault(new Error('Connection terminated unexpectedly')), 'database unreachable (connection lost)');
  assert.equal(storeFault(err('SQLITE_CONSTRAINT_PRIMARYKEY')), undefined);
  assert.equal(storeFault(new TypeError("Cannot read properties of undefined (reading 'x')")), undefined);
  assert.equal(storeFault('boom'), undefined);
});
