import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../lib/clock.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { verifySignature } from '../../control-plane/sinks/index.ts';
import type { ControlPlaneConfig } from '../../control-plane/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';

const library = loadLibrary();
const SECRET = 'lab-webhook-secret-0123456789';

interface Received { key: string; body: any; signatureOk: boolean }

/**
 * A webhook receiver on loopback, as a SOAR would run one: it checks the signature, remembers
 * every idempotency key, and answers `status()` (503 while it is "down").
 */
async function receiver(status: () => number): Promise<{ url: string; requests: Received[]; server: Server }> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const code = status();
      if (code < 300) {
        requests.push({ key: String(req.headers['idempotency-key']), body: JSON.parse(raw.toString()), signatureOk: verifySignature(SECRET, raw, req.headers['x-arcsim-signature'] as string | undefined) });
      }
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests, server };
}

async function playOn(url: string, token: string, name: string, slugs: string[], t: { after(fn: () => unknown): void }): Promise<void> {
  const creds = await enroll(url, token, name);
  const a = await RawAgent.connect(url, creds);
  t.after(() => a.close());
  await a.register({ ...TEST_FACTS, hostname: name });
  let seq = 0;
  for (const slug of slugs) {
    const events = planEvents(library.get(slug)!, { detonationId: `${name}-${slug}`, device: { id: creds.agentId, name }, startTime: Date.now() - 60_000, seed: seq }).map((p) => p.event);
    a.send({ v: 1, type: 'events', seq: ++seq, events });
    await a.next('ack');
  }
}

test('webhook sink: a receiver that refuses for a minute, and a control-plane restart in between, gets every alert change once by idempotency key, signed', async (t) => {
  const clock = new ManualClock(Date.now());
  const downUntil = clock.now() + 60_000;
  const rx = await receiver(() => (clock.now() < downUntil ? 503 : 200));
  t.after(() => rx.server.close());
  const config: ControlPlaneConfig = {
    sync: { profile: 'xdr-unified' },
    sinks: [{ name: 'soar', type: 'webhook', url: rx.url, secret: SECRET, retryMinMs: 1_000, retryMaxMs: 20_000 }],
  };
  const dir = tempDir();
  t.after(() => cleanup(dir));

  // First life: alerts are raised while the receiver refuses.
  const env1 = await startControlPlane({ clock, config, dir });
  const token = await env1.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1' });
  await playOn(env1.url, token.token, 'web-01', ['ssh-brute-force-failed', 'suspicious-powershell-encoded'], t);
  const firstAlerts = await env1.store.alerts.listAlerts();
  assert.ok(firstAlerts.length >= 2, `alerts: ${firstAlerts.length}`);
  assert.deepEqual(await env1.cp.sinks.deliver(), { soar: 0 });
  const health = await (await fetch(`${env1.url}/api/health`)).json();
  assert.equal(health.status, 'ok', 'a failing sink does not make the control plane degraded');
  assert.equal(health.sinks[0].name, 'soar');
  assert.equal(health.sinks[0].state, 'failing');
  assert.equal(health.sinks[0].pending, firstAlerts.length);
  assert.equal(health.sinks[0].lastError, 'HTTP 503');
  clock.advance(20_000);
  await env1.cp.sinks.deliver();
  const lag = (await (await fetch(`${env1.url}/api/health`)).json()).sinks[0];
  assert.ok(lag.lagMs >= 20_000, `lag ${lag.lagMs} ms`);
  await env1.close();

  // Second life on the same store: a status change adds to the outbox; the receiver comes back.
  const env2 = await startControlPlane({ clock, config, dir });
  t.after(() => env2.close());
  const admin = await apiKeyFor(env2, 'responder');
  const resolved = firstAlerts[0]!.systemAlertId;
  const owner = firstAlerts[0]!.properties.detectingProduct === 'MDE' ? 'MDE' : 'MDC';
  const r = await fetch(`${env2.url}/api/alerts/${resolved}/resolve?product=${owner}`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
  assert.equal(r.status, 200, await r.text());
  let rounds = 0;
  while (rx.requests.length < firstAlerts.length + 1 && rounds++ < 100) {
    clock.advance(5_000);
    await env2.cp.sinks.deliver();
  }
  assert.ok(clock.now() >= downUntil, 'nothing was accepted while the receiver refused');

  // Every change exactly once by key; every body signed; the created ones name every alert.
  const keys = rx.requests.map((q) => q.key);
  assert.equal(new Set(keys).size, keys.length, `duplicate keys: ${keys.join(', ')}`);
  assert.ok(rx.requests.every((q) => q.signatureOk), 'X-Arcsim-Signature verifies with the shared secret');
  assert.ok(rx.requests.every((q) => q.key === q.body.id));
  const created = rx.requests.filter((q) => q.body.type === 'alert.created').map((q) => q.body.systemAlertId).sort();
  assert.deepEqual(created, firstAlerts.map((a) => a.systemAlertId).sort());
  const status = rx.requests.filter((q) => q.body.type === 'alert.status');
  assert.deepEqual(status.map((q) => [q.body.systemAlertId, q.body.status]), [[resolved, 'Resolved']]);
  assert.equal(rx.requests[0]!.body.data['@odata.type'], '#microsoft.graph.security.alert');

  // Caught up: health says so; the audit log has the failure and the recovery.
  const after = (await (await fetch(`${env2.url}/api/health`)).json()).sinks[0];
  assert.deepEqual([after.state, after.pending, after.lagMs, after.failures], ['ok', 0, 0, 0]);
  const audit = (await env2.store.keys.listAudit({ limit: 100 })).filter((a) => a.who === 'sink:soar');
  assert.ok(audit.some((a) => a.status === 503 && /failing: HTTP 503/.test(a.target)), JSON.stringify(audit));
  const recovered = audit.find((a) => a.status === 200 && /recovered/.test(a.target));
  assert.ok(recovered, JSON.stringify(audit));
  // The first alert waited from the first life until the receiver came back: over a minute late.
  assert.ok(Number(/the oldest (\d+) ms late/.exec(recovered.target)?.[1]) >= 60_000, recovered.target);
  // Nothing more to send.
  clock.advance(60_000);
  assert.deepEqual(await env2.cp.sinks.deliver(), { soar: 0 });
});

test('webhook sink: a delivery whose answer is lost is sent again with the same idempotency key (at-least-once)', async (t) => {
  const clock = new ManualClock(Date.now());
  let answer = 500; // the receiver stores the first request, then its answer is an error
  const rx = await receiver(() => 200);
  const seen: string[] = [];
  rx.server.removeAllListeners('request');
  rx.server.on('request', (req, res) => {
    seen.push(String(req.headers['idempotency-key']));
    req.resume();
    req.on('end', () => { res.writeHead(answer).end(); answer = 200; });
  });
  t.after(() => rx.server.close());
  const env = await startControlPlane({ clock, config: { sinks: [{ name: 'soar', type: 'webhook', url: rx.url, secret: SECRET, format: 'ocsf' }] } });
  t.after(() => env.close());
  const token = await env.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1' });
  await playOn(env.url, token.token, 'web-01', ['ssh-brute-force-failed'], t);
  await env.cp.sinks.deliver();
  clock.advance(1_000);
  await env.cp.sinks.deliver();
  assert.ok(seen.length >= 2);
  assert.equal(seen[0], seen[1], 'the retry carries the key of the first attempt');
});

test('webhook and syslog sinks to a port where nothing listens: ECONNREFUSED on /api/health, retried later, the control plane stays ok', async (t) => {
  const clock = new ManualClock(Date.now());
  const closed = await receiver(() => 200);
  const port = Number(new URL(closed.url).port);
  await new Promise<void>((resolve) => closed.server.close(() => resolve()));
  const env = await startControlPlane({
    clock,
    config: {
      sinks: [
        { name: 'soar', type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: SECRET, retryMinMs: 2_000 },
        { name: 'siem', type: 'syslog', transport: 'tcp', host: '127.0.0.1', port, retryMinMs: 2_000 },
      ],
    },
  });
  t.after(() => env.close());
  const token = await env.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1' });
  await playOn(env.url, token.token, 'web-01', ['ssh-brute-force-failed'], t);
  await env.cp.sinks.deliver();
  const health = await (await fetch(`${env.url}/api/health`)).json();
  assert.equal(health.status, 'ok');
  for (const s of health.sinks) {
    assert.deepEqual([s.state, s.lastError, s.failures], ['failing', 'ECONNREFUSED', 1], JSON.stringify(s));
    assert.equal(Date.parse(s.nextAttemptAt), clock.now() + 2_000, 'first retry after retryMinMs');
    assert.ok(s.pending >= 1);
  }
  // Not due yet: no attempt; due: one more failed attempt.
  await env.cp.sinks.deliver();
  assert.equal((await (await fetch(`${env.url}/api/health`)).json()).sinks[0].failures, 1);
  clock.advance(2_000);
  await env.cp.sinks.deliver();
  assert.ok((await (await fetch(`${env.url}/api/health`)).json()).sinks.every((s: any) => s.failures === 2));
});
