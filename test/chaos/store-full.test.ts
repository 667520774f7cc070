import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createControlPlane, openSqliteStore } from '../../control-plane/index.ts';
import { cleanup, tempDir } from '../helpers.ts';
import { faultyStore } from '../support/faulty-store.ts';
import { ackedSoFar, eventsOf, report, startStreamingAgent, stream, tally, until } from './chaos-support.ts';

/**
 * Issue 12, "Stall after a write error": with the data dir on a full disk the agent got
 * ARCSIM_E_INTERNAL with no batch reference, stopped sending, and made no progress after space was
 * freed; /api/health said ok throughout.
 */
test('chaos ENOSPC: store writes fail for a while, then recover; health is 503 during and ok after, ingestion resumes on the same connection, 0 lost, 0 duplicates', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const real = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const faults = faultyStore(real);
  const cp = createControlPlane({ store: faults.store, config: { port: 0, host: '127.0.0.1' } });
  const url = await cp.listen();
  t.after(async () => { await cp.close(); await real.close(); });
  const { token } = await cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const agent = await startStreamingAgent(url, token, dir, 28);
  t.after(() => agent.stop());
  const events = eventsOf(agent.agentId!, 12_000, 'chaos-enospc');
  let spooled = 0;
  let registrations = 0;
  let disconnects = 0;
  let nacks = 0;
  const delays: number[] = [];
  agent.on('retry', (r: { delayMs: number }) => delays.push(r.delayMs));
  agent.on('spooled', () => spooled++);
  agent.on('registered', () => registrations++);
  agent.on('disconnected', () => disconnects++);
  agent.on('error-frame', (f: { code: string; ref?: unknown; retryable?: boolean }) => {
    if (f.code === 'ARCSIM_E_STORE_WRITE' && typeof f.ref === 'number' && f.retryable) nacks++;
  });
  const health = async () => {
    const res = await fetch(`${url}/api/health`);
    return { status: res.status, body: (await res.json()) as { status: string; reasons?: string[] } };
  };

  const streaming = stream(agent, events);
  await until(() => ackedSoFar(agent, spooled) >= 2000, '2000 acked events');
  faults.fail('ENOSPC');
  await until(() => nacks >= 3, 'batches refused with a retryable ARCSIM_E_STORE_WRITE');
  const during = await health();
  const ackedWhileFull = ackedSoFar(agent, spooled);
  await new Promise((r) => setTimeout(r, 1000)); // the disk stays full for a while; the agent keeps retrying
  assert.equal(ackedSoFar(agent, spooled), ackedWhileFull, 'nothing is acked while the store cannot write');
  faults.heal();

  await streaming;
  await until(() => agent.pendingEvents() === 0, 'every event acked once the disk has room again', 30_000);
  const after = await health();
  const r = await tally(real, events, 'chaos-enospc', ackedSoFar(agent, spooled));
  report('enospc', r, `${registrations} registrations, ${disconnects} disconnects, ${faults.refused()} batches refused, health ${during.status} during / ${after.status} after`);

  assert.equal(during.status, 503);
  assert.equal(during.body.status, 'degraded');
  assert.match(during.body.reasons![0]!, /^store: disk full \(ENOSPC\) since \d{4}-\d\d-\d\dT/);
  assert.deepEqual([after.status, after.body.status], [200, 'ok']);
  assert.ok(delays.length >= 3 && delays.every((d) => d >= cp.limits.storeRetryAfterMs), `resent no sooner than advised: ${delays.join(', ')} ms`);
  assert.deepEqual([registrations, disconnects], [0, 0], 'no reconnect and no restart: the same connection carried on');
  assert.deepEqual([r.acked, r.stored, r.lost, r.duplicates], [12_000, 12_000, 0, 0]);
});
