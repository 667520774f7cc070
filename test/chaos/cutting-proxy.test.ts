import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Socket } from 'node:net';
import { seededRandom } from '../../lib/random.ts';
import { cleanup, startControlPlane } from '../helpers.ts';
import { ackedSoFar, eventsOf, report, startStreamingAgent, stream, tally, until } from './chaos-support.ts';

/**
 * A TCP proxy on loopback that forwards to `target` and, every `everyMs`, cuts every open
 * connection with probability `p` (decided by a seeded random source, so a run can be replayed).
 */
async function cuttingProxy(target: { host: string; port: number }, seed: number, everyMs: number, p: number) {
  const random = seededRandom(seed);
  const pairs = new Set<[Socket, Socket]>();
  let cuts = 0;
  const server = createServer((client) => {
    const upstream = createConnection(target);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => { client.destroy(); upstream.destroy(); pairs.delete(pair); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  let timer: NodeJS.Timeout | undefined;
  const cut = () => {
    for (const pair of pairs) {
      if (random.next() < p) {
        cuts++;
        pair[0].destroy();
        pair[1].destroy();
        pairs.delete(pair);
      }
    }
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cuts: () => cuts,
    /** Starts cutting. */
    rage: () => (timer = setInterval(cut, everyMs)),
    /** Stops cutting (connections made from now on stay up). */
    calm: () => clearInterval(timer),
    close: () => new Promise<void>((resolve) => {
      clearInterval(timer);
      for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
      server.close(() => resolve());
    }),
  };
}

test('chaos proxy: connections between agent and control plane are cut at random (seeded) during ingest; 0 lost, 0 duplicates', { timeout: 60_000 }, async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const target = new URL(env.url);
  const proxy = await cuttingProxy({ host: target.hostname, port: Number(target.port) }, 12, 150, 0.35);
  t.after(() => proxy.close());
  const { token } = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  // Enrollment and the first registration go through a calm proxy; the cutting starts with the stream.
  const agent = await startStreamingAgent(proxy.url, token, env.dir, 12);
  proxy.rage();
  t.after(() => agent.stop());
  let disconnects = 0;
  let midStream = 0;
  agent.on('disconnected', () => {
    disconnects++;
    if (agent.pendingEvents() > 0) midStream++;
  });
  const events = eventsOf(agent.agentId!, 12_000, 'chaos-proxy');
  let spooled = 0;
  agent.on('spooled', () => spooled++);

  await stream(agent, events);
  await until(() => disconnects >= 3, 'at least three cuts during the stream');
  assert.ok(midStream >= 1, 'cut while events were in flight or waiting');
  proxy.calm();
  await until(() => agent.pendingEvents() === 0, 'every event acked', 30_000);
  const r = await tally(env.store, events, 'chaos-proxy', ackedSoFar(agent, spooled));
  report('proxy', r, `${proxy.cuts()} connections cut, ${disconnects} reconnects`);
  assert.deepEqual([r.acked, r.stored, r.lost, r.duplicates], [12_000, 12_000, 0, 0]);
});
