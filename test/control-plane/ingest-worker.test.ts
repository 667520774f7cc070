import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { SensorEvent } from '../../protocol/index.ts';
import { DEFAULT_RULES_DIR, readRuleSources } from '../../control-plane/detection/index.ts';
import { DecodePool } from '../../control-plane/ingest/decode-pool.ts';
import { silentLogger } from '../../lib/logger.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, WINDOWS_SERVER_FACTS, type TestControlPlane } from '../helpers.ts';
import { detectAlertsWorkload } from './detect-alerts-workload.ts';

/**
 * Issue 16, goal 1: agents' event batches are decoded, validated and matched against the rules on
 * an ingest worker thread (limits.ingestWorkers: 1; default 0), the main thread keeping the store,
 * correlation, alerts and acks. Nothing an agent or an analyst sees may change: the same rows,
 * alerts, incidents and errors as with everything on the main thread (ingestWorkers: 0), and a
 * worker that dies fails no batch.
 */

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const RULES = [DEFAULT_RULES_DIR, join(FIXTURES, 'sigmahq')];

async function start(t: { after(fn: () => unknown): void }, ingestWorkers: number): Promise<TestControlPlane & { token: string }> {
  const env = await startControlPlane({ config: { rulesDirs: RULES, limits: { ingestWorkers, maxEventsPerSecond: 1_000_000, eventsBurst: 1_000_000 } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  // Until a worker has compiled its rules, frames are decoded on the main thread: wait for it.
  for (let i = 0; i < 1500 && env.cp.ingestWorkers().length < ingestWorkers; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(env.cp.ingestWorkers().length, ingestWorkers);
  const token = (await env.cp.createToken({ subscription: 's', resourceGroup: 'rg', ttlMs: 3_600_000 })).token;
  return { ...env, token };
}

/** `arcsim_ingest_batches_decoded_total` by thread, scraped from GET /metrics. */
async function decodedOn(env: TestControlPlane): Promise<{ worker: number; main: number }> {
  const res = await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${await apiKeyFor({ store: env.store }, 'reader')}` } });
  const text = await res.text();
  const value = (thread: string) => Number(new RegExp(`^arcsim_ingest_batches_decoded_total\\{thread="${thread}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { worker: value('worker'), main: value('main') };
}

/** Sends every frame in one TCP write (so they are all in flight at once) and waits for one reply per frame. */
async function sendAll(agent: RawAgent, frames: unknown[]): Promise<Array<Record<string, any>>> {
  const replies: Array<Record<string, any>> = [];
  agent.ws.on('message', (data) => {
    const f = JSON.parse(String(data));
    if (f.type === 'ack' || f.type === 'error') replies.push(f);
  });
  const socket = (agent.ws as unknown as { _socket: Socket })._socket;
  socket.cork();
  for (const f of frames) agent.send(f);
  socket.uncork();
  for (let i = 0; i < 1500 && replies.length < frames.length; i++) await new Promise((r) => setTimeout(r, 20));
  return replies;
}

/** The workload's events as one agent's own (its DeviceId), in batches of `size`. */
function batchesOf(events: SensorEvent[], agentId: string, size: number, firstSeq = 1): unknown[] {
  const frames: unknown[] = [];
  for (let i = 0; i < events.length; i += size) {
    frames.push({ v: 1, type: 'events', seq: firstSeq + frames.length, events: events.slice(i, i + size).map((e) => ({ ...e, DeviceId: agentId, DeviceName: 'host-w' })) });
  }
  return frames;
}

/** What an analyst sees of the alerts and incidents, without the ids that differ between two control planes. */
async function outcome(env: TestControlPlane): Promise<{ events: number; alerts: string[]; incidents: string[] }> {
  const alerts = await env.store.alerts.listAlerts();
  const typeOf = new Map(alerts.map((a) => [a.systemAlertId, a.alertType]));
  const incidents = await Promise.all((await env.store.incidents.listIncidents()).map(async (i) =>
    `${i.severity} | ${(await env.store.incidents.incidentAlertIds(i.incidentId)).map((id) => typeOf.get(id)).sort().join(', ')}`));
  return {
    events: await env.store.events.countEvents(),
    alerts: alerts.map((a) => `${a.alertType} | ${a.ruleId} | ${a.severity} | ${a.status} | x${a.count}`).sort(),
    incidents: incidents.sort(),
  };
}

test('batches decoded and matched on the ingest worker store and raise exactly what the main thread does (SigmaHQ sample, file profiles, folds)', { timeout: 120_000 }, async (t) => {
  const { events } = detectAlertsWorkload();
  const results = [];
  for (const workers of [0, 1]) {
    const env = await start(t, workers);
    const creds = await enroll(env.url, env.token, 'host-w');
    const agent = await RawAgent.connect(env.url, creds);
    t.after(() => agent.close());
    await agent.register(WINDOWS_SERVER_FACTS);
    const frames = batchesOf(events, creds.agentId, 100);
    const replies = await sendAll(agent, frames);
    assert.deepEqual(replies.map((r) => [r.type, r.seq]), frames.map((_, i) => ['ack', i + 1]), `ingestWorkers ${workers}: every batch acked, in order`);
    const decoded = await decodedOn(env);
    // The worker did the decoding (else this test would compare the main thread with itself).
    assert.deepEqual(decoded, workers ? { worker: frames.length, main: 0 } : { worker: 0, main: frames.length });
    results.push(await outcome(env));
  }
  const [main, worker] = results;
  assert.equal(main!.events, events.length);
  assert.ok(main!.alerts.length > 5, `the workload raises alerts (${main!.alerts.length})`);
  assert.ok(main!.alerts.some((a) => !a.endsWith('x1')), 'and folds occurrences');
  assert.deepEqual(worker, main);
});

test('a bad batch gets the same typed error, naming the same batch and event, from the worker as from the main thread', { timeout: 60_000 }, async (t) => {
  const answers = [];
  for (const workers of [0, 1]) {
    const env = await start(t, workers);
    const creds = await enroll(env.url, env.token, 'host-e');
    const agent = await RawAgent.connect(env.url, creds);
    t.after(() => agent.close());
    await agent.register(WINDOWS_SERVER_FACTS);
    const good = (batchesOf(detectAlertsWorkload().events.slice(0, 3), creds.agentId, 3)[0] as { events: Array<Record<string, unknown>> }).events;
    const replies = await sendAll(agent, [
      '{"v":1,"type":"events","seq":1,"events":[',
      { v: 1, type: 'events', seq: 2, events: [good[0], { ...good[1], DeviceId: 'someone-else' }] },
      { v: 1, type: 'events', seq: 3, events: [good[0], { ...good[1], Timestamp: 'yesterday' }] },
      { v: 1, type: 'events', seq: 4, events: Array.from({ length: 1001 }, () => good[0]) },
      { v: 2, type: 'events', seq: 5, events: [good[0]] },
      { v: 1, type: 'events', seq: 6, events: good },
    ]);
    answers.push(replies.map((r) => ({ type: r.type, ref: r.ref ?? r.seq, code: r.code, path: r.path, message: String(r.message).replace(creds.agentId, '<agent>') })));
    assert.equal(await env.store.events.countEvents(), 3);
  }
  const [main, worker] = answers;
  // The codes docs/errors.md gives for each fault, in frame order; the last batch is stored.
  assert.deepEqual(worker!.map((a) => [a.type, a.ref, a.code]), [
    ['error', 1, 'ARCSIM_E_FRAME_JSON'],
    ['error', 2, 'ARCSIM_E_EVENT_FOREIGN'],
    ['error', 3, 'ARCSIM_E_FRAME_SCHEMA'],
    ['error', 4, 'ARCSIM_E_BATCH_TOO_LARGE'],
    ['error', 5, 'ARCSIM_E_VERSION'],
    ['ack', 6, undefined],
  ]);
  assert.equal(worker![1]!.path, 'events.1.DeviceId');
  assert.deepEqual(worker, main);
});

test('a killed ingest worker fails no batch: what it held is decoded on the main thread, and a new worker takes over', { timeout: 120_000 }, async (t) => {
  const env = await start(t, 1);
  const creds = await enroll(env.url, env.token, 'host-k');
  const agent = await RawAgent.connect(env.url, creds);
  t.after(() => agent.close());
  await agent.register(WINDOWS_SERVER_FACTS);
  const { events } = detectAlertsWorkload();
  const frames = batchesOf(events, creds.agentId, 20);
  const [worker] = env.cp.ingestWorkers();
  assert.ok(worker, 'one worker runs');
  const replies = sendAll(agent, frames);
  // Killed while the frames are on their way to it or in it.
  await worker.terminate();
  const got = await replies;
  assert.deepEqual(got.map((r) => [r.type, r.seq]), frames.map((_, i) => ['ack', i + 1]), 'every batch acked, in order, none refused');
  assert.equal(await env.store.events.countEvents(), events.length);
  const after = await decodedOn(env);
  assert.equal(after.worker + after.main, frames.length);
  assert.ok(after.main > 0, 'some were decoded on the main thread');
  // A new worker is started (at most once a second) and, once it has compiled the rules, decodes the next batches.
  for (let i = 0; i < 1500 && !env.cp.ingestWorkers().some((w) => w !== worker); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(env.cp.ingestWorkers().length, 1);
  const more = await sendAll(agent, batchesOf(events.slice(0, 10).map((e, i) => ({ ...e, ReportId: `0190b000-0000-7000-8000-${String(i).padStart(12, '0')}` })), creds.agentId, 10, frames.length + 1));
  assert.deepEqual(more.map((r) => r.type), ['ack']);
  assert.equal((await decodedOn(env)).worker, after.worker + 1);
});

test('the pool answers null for a frame its worker held when it died, and for any frame while none runs', { timeout: 60_000 }, async () => {
  const pool = new DecodePool({ workers: 1, sources: readRuleSources([DEFAULT_RULES_DIR]), maxEventsPerBatch: 1000, logger: silentLogger(), certificates: async () => [], restartDelayMs: 60_000 });
  try {
    await pool.start();
    for (let i = 0; i < 1500 && pool.workers.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const { events } = detectAlertsWorkload();
    const frame = Buffer.from(JSON.stringify({ v: 1, type: 'events', seq: 1, events: events.slice(0, 1000).map((e) => ({ ...e, DeviceId: 'a1' })) }));
    // Answered by the worker while it runs.
    const first = await pool.decode('a1', 'windows', frame);
    assert.ok(first?.ok && first.kind === 'events' && first.batch.count === 888);
    const held = pool.decode('a1', 'windows', frame);
    await pool.workers[0]!.terminate();
    assert.equal(await held, null);
    assert.equal(await pool.decode('a1', 'windows', frame), null);
    // The caller's bytes are untouched (a copy was transferred), so it can decode them itself.
    assert.equal(JSON.parse(frame.toString('utf8')).seq, 1);
  } finally {
    await pool.close();
  }
});
