/**
 * Issue 16, goal 4 (10,000 agents heartbeating every 5 s): heartbeats are written in batches, one
 * transaction for all that came within `limits.heartbeatFlushMs`, not one commit each; an agent's
 * next frame still sees its heartbeat recorded (frames take effect in the order they were sent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createControlPlane, openSqliteStore, type Store } from '../../control-plane/index.ts';
import { ManualClock } from '../../lib/clock.ts';
import { cleanup, enroll, RawAgent, tempDir, TEST_FACTS } from '../helpers.ts';

/** The real SQLite store, with the heartbeat writes it receives counted (calls, and heartbeats in them). */
function countingStore(store: Store): { store: Store; writes: { calls: number; heartbeats: number } } {
  const writes = { calls: 0, heartbeats: 0 };
  const machines = new Proxy(store.machines, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key === 'recordHeartbeat') return (...args: Parameters<Store['machines']['recordHeartbeat']>) => { writes.calls++; writes.heartbeats++; return target.recordHeartbeat(...args); };
      if (key === 'recordHeartbeats') return (rows: Parameters<Store['machines']['recordHeartbeats']>[0]) => { writes.calls++; writes.heartbeats += rows.length; return target.recordHeartbeats(rows); };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: new Proxy(store, { get: (t, k, r) => (k === 'machines' ? machines : Reflect.get(t, k, r)) }), writes };
}

test('20 agents heartbeating at once are written in a few transactions (not 20), each heartbeat with its time; a later frame sees it recorded', async (t) => {
  const dir = tempDir();
  const real = openSqliteStore({ file: `${dir}/arcsim.db` });
  const { store, writes } = countingStore(real);
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 12));
  const cp = createControlPlane({ store, clock, config: { port: 0, host: '127.0.0.1', limits: { heartbeatFlushMs: 500 } } });
  const url = await cp.listen();
  t.after(async () => { await cp.close(); await real.close(); cleanup(dir); });
  const token = await cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
  const agents = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const a = await RawAgent.connect(url, await enroll(url, token.token, `hb-${i}`));
    await a.register({ ...TEST_FACTS, hostname: `hb-${i}`, vmUuid: undefined, networkInterfaces: [] });
    return a;
  }));
  t.after(() => { for (const a of agents) a.close(); });
  clock.advance(5_000);
  const beatAt = clock.now();
  for (const a of agents) a.send({ v: 1, type: 'heartbeat', time: new Date(beatAt).toISOString(), droppedEvents: 7 });
  const recorded = async () => (await Promise.all(agents.map((a) => real.machines.getMachine(a.agentId)))).filter((m) => m?.lastHeartbeat === beatAt).length;
  for (let i = 0; i < 200 && (await recorded()) < agents.length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await recorded(), 20, 'every heartbeat is recorded with its time');
  assert.ok((await Promise.all(agents.map((a) => real.machines.getMachine(a.agentId)))).every((m) => m?.droppedEvents === 7));
  assert.equal(writes.heartbeats, 20);
  // One write (a commit) per heartbeat before: 20. Now what arrives within 500 ms is one write.
  assert.ok(writes.calls <= 4, `20 heartbeats written in ${writes.calls} store calls (one per heartbeat before batching)`);

  // A heartbeat followed by another frame: recorded by the time that frame is acked.
  clock.advance(5_000);
  agents[0]!.send({ v: 1, type: 'heartbeat', time: new Date(clock.now()).toISOString() });
  agents[0]!.send({ v: 1, type: 'events', seq: 1, events: [] });
  await agents[0]!.next('ack');
  assert.equal((await real.machines.getMachine(agents[0]!.agentId))?.lastHeartbeat, clock.now());
});

test('a heartbeat with no frame after it is written within limits.heartbeatFlushMs, and turns a Disconnected machine Connected', async (t) => {
  const dir = tempDir();
  const store = openSqliteStore({ file: `${dir}/arcsim.db` });
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 12));
  const cp = createControlPlane({ store, clock, config: { port: 0, host: '127.0.0.1', limits: { heartbeatFlushMs: 50 } } });
  const url = await cp.listen();
  t.after(async () => { await cp.close(); await store.close(); cleanup(dir); });
  const token = await cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
  const a = await RawAgent.connect(url, await enroll(url, token.token));
  t.after(() => a.close());
  await a.register();
  clock.advance(10 * 60_000);
  await cp.inventory.sweep();
  assert.notEqual((await store.machines.getMachine(a.agentId))?.status, 'Connected', 'silent for 10 minutes: no longer Connected');
  a.send({ v: 1, type: 'heartbeat', time: new Date(clock.now()).toISOString() });
  let m = await store.machines.getMachine(a.agentId);
  for (let i = 0; i < 100 && m?.lastHeartbeat !== clock.now(); i++) {
    await new Promise((r) => setTimeout(r, 50));
    m = await store.machines.getMachine(a.agentId);
  }
  assert.equal(m?.lastHeartbeat, clock.now(), 'written by the flush timer');
  assert.equal(m?.status, 'Connected');
  assert.equal(m?.lastStatusChange, clock.now());
});
