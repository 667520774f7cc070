import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import WebSocket from 'ws';
import { ManualClock } from '../../lib/clock.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { apiKeyFor, cleanup, enroll, MIGRATION_VERSIONS, RawAgent, startControlPlane, type TestControlPlane } from '../helpers.ts';

/** Attempts a WebSocket upgrade and reports what came back: HTTP status + body, or an open socket. */
function upgrade(url: string, authorization?: string, path = '/agent/v1'): Promise<{ status?: number; body?: any; opened: boolean }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}${path}`, { headers: authorization ? { authorization } : {} });
    ws.on('open', () => { ws.close(); resolve({ opened: true }); });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text), opened: false }));
    });
    ws.on('error', (err) => { if (!String(err.message).includes('Unexpected server response')) reject(err); });
  });
}

async function setup(t: { after(fn: () => unknown): void }, options: Parameters<typeof startControlPlane>[0] = {}): Promise<TestControlPlane & { token: string }> {
  const env = await startControlPlane(options);
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = (await env.cp.createToken({ subscription: 's', resourceGroup: 'rg', ttlMs: 3_600_000 })).token;
  return { ...env, token };
}

test('upgrade without a key, or with a wrong one, gets HTTP 401 and no socket', async (t) => {
  const env = await setup(t);
  const creds = await enroll(env.url, env.token);
  const none = await upgrade(env.url);
  assert.deepEqual([none.status, none.body.code, none.opened], [401, 'ARCSIM_E_AGENT_AUTH', false]);
  const wrong = await upgrade(env.url, `Bearer ${creds.agentId}.not-the-key`);
  assert.deepEqual([wrong.status, wrong.body.code, wrong.opened], [401, 'ARCSIM_E_AGENT_AUTH', false]);
  const unknown = await upgrade(env.url, `Bearer 00000000-0000-4000-8000-000000000000.${creds.agentKey}`);
  assert.deepEqual([unknown.status, unknown.body.code, unknown.body.node_invalid], [401, 'ARCSIM_E_NODE_INVALID', true]);
  const elsewhere = await upgrade(env.url, `Bearer ${creds.agentId}.${creds.agentKey}`, '/agent/v2');
  assert.equal(elsewhere.status, 404);
  const right = await upgrade(env.url, `Bearer ${creds.agentId}.${creds.agentKey}`);
  assert.equal(right.opened, true);
  assert.equal(env.cp.connectedAgents().length <= 1, true);
});

test('a malformed frame gets a typed error; the socket and the other agents keep being served', async (t) => {
  const env = await setup(t);
  const a = await RawAgent.connect(env.url, await enroll(env.url, env.token, 'host-a'));
  const bCreds = await enroll(env.url, env.token, 'host-b');
  const b = await RawAgent.connect(env.url, bCreds);
  t.after(() => { a.close(); b.close(); });
  await a.register();
  await b.register({ ...(await import('../helpers.ts')).TEST_FACTS, hostname: 'host-b' });

  a.send('{"v":1,"type":"events",');
  const e1 = await a.next('error');
  assert.equal(e1.code, 'ARCSIM_E_FRAME_JSON');
  a.send({ v: 1, type: 'launch-missiles' });
  assert.equal((await a.next('error')).code, 'ARCSIM_E_FRAME_TYPE');
  a.send({ v: 1, type: 'heartbeat', time: 'yesterday' });
  const e3 = await a.next('error');
  assert.equal(e3.code, 'ARCSIM_E_FRAME_SCHEMA');
  assert.equal(e3.path, 'time');
  a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await a.next('error')).code, 'ARCSIM_E_FRAME_BINARY');
  // Events claiming another device are refused as a whole.
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  const foreign = planEvents(ssh, { detonationId: 'x', device: { id: bCreds.agentId, name: 'host-b' }, startTime: Date.now() }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 9, events: foreign });
  const e4 = await a.next('error');
  assert.deepEqual([e4.code, e4.ref, e4.path], ['ARCSIM_E_EVENT_FOREIGN', 9, 'events.0.DeviceId']);
  assert.equal(await env.store.events.countEvents(), 0);

  // Both sockets still work: b ingests, a heartbeats.
  const ok = planEvents(ssh, { detonationId: 'y', device: { id: bCreds.agentId, name: 'host-b' }, startTime: Date.now() }).map((p) => p.event);
  b.send({ v: 1, type: 'events', seq: 1, events: ok });
  assert.equal((await b.next('ack')).stored, 10);
  a.send({ v: 1, type: 'heartbeat', time: new Date().toISOString() });
  a.send({ v: 1, type: 'events', seq: 1, events: [] });
  assert.deepEqual(await a.next('ack'), { v: 1, type: 'ack', seq: 1, stored: 0 });
  assert.equal(a.ws.readyState, WebSocket.OPEN);
});

test('events before register are refused; an oversized frame gets a typed error and close code 1009', async (t) => {
  const env = await setup(t, { config: { limits: { maxFrameBytes: 64 * 1024 } } });
  const a = await RawAgent.connect(env.url, await enroll(env.url, env.token));
  a.send({ v: 1, type: 'events', seq: 4, events: [] });
  const e = await a.next('error');
  assert.deepEqual([e.code, e.ref], ['ARCSIM_E_NOT_REGISTERED', 4]);
  await a.register();
  a.send(JSON.stringify({ v: 1, type: 'heartbeat', time: new Date().toISOString(), pad: 'x'.repeat(100 * 1024) }));
  assert.equal((await a.next('error')).code, 'ARCSIM_E_FRAME_TOO_LARGE');
  const closed = await a.closed;
  assert.equal(closed.code, 1009);
  // The control plane is still up.
  assert.equal((await fetch(`${env.url}/api/health`)).status, 200);
});

test('no register within the handshake timeout closes with 4408', async (t) => {
  const env = await setup(t, { config: { limits: { handshakeTimeoutMs: 100 } } });
  const a = await RawAgent.connect(env.url, await enroll(env.url, env.token));
  assert.equal((await a.next('error')).code, 'ARCSIM_E_HANDSHAKE_TIMEOUT');
  assert.equal((await a.closed).code, 4408);
});

test('the events-per-second cap refuses a batch with ARCSIM_E_RATE_LIMITED and accepts it once the clock moves on', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const env = await setup(t, { clock, config: { limits: { maxEventsPerSecond: 10, eventsBurst: 10, maxEventsPerBatch: 10 } } });
  const creds = await enroll(env.url, env.token);
  const a = await RawAgent.connect(env.url, creds);
  t.after(() => a.close());
  await a.register();
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  const batch = (seed: number) => planEvents(ssh, { detonationId: 'r', device: { id: creds.agentId, name: 'h' }, startTime: clock.now(), seed }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 1, events: batch(1) });
  assert.equal((await a.next('ack')).stored, 10);
  a.send({ v: 1, type: 'events', seq: 2, events: batch(2) });
  const e = await a.next('error');
  assert.deepEqual([e.code, e.ref], ['ARCSIM_E_RATE_LIMITED', 2]);
  assert.equal(await env.store.events.countEvents(), 10, 'the refused batch stored nothing');
  clock.advance(1000);
  a.send({ v: 1, type: 'events', seq: 2, events: batch(2) });
  assert.equal((await a.next('ack')).stored, 10);
});

test('enrollment: expired, revoked and unknown tokens are refused with their codes; keys are stored hashed', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const env = await setup(t, { clock });
  const post = (token: string) => fetch(`${env.url}/api/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  const creds = await enroll(env.url, env.token);
  const agent = await env.store.agents.getAgent(creds.agentId);
  assert.ok(agent && agent.keyHash !== creds.agentKey && !agent.keyHash.includes(creds.agentKey));

  clock.advance(2 * 3_600_000); // the token lived for one hour
  const expired = await post(env.token);
  assert.equal(expired.status, 401);
  assert.equal((await expired.json()).code, 'ARCSIM_E_TOKEN_EXPIRED');

  const fresh = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const adminKey = await env.cp.ensureAdminKey({ reset: true });
  const del = await fetch(`${env.url}/api/tokens/${fresh.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminKey}` } });
  assert.equal(del.status, 204);
  const revoked = await post(fresh.token);
  assert.equal((await revoked.json()).code, 'ARCSIM_E_TOKEN_INVALID');
  assert.equal((await (await post('arcsim_enroll_nonsense')).json()).code, 'ARCSIM_E_TOKEN_INVALID');
  const malformed = await fetch(`${env.url}/api/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":' });
  assert.equal(malformed.status, 400);
  assert.equal((await malformed.json()).code, 'ARCSIM_E_VALIDATION');
});

test('state-changing REST calls need the admin key', async (t) => {
  const env = await setup(t);
  const adminKey = await env.cp.ensureAdminKey({ reset: true });
  const body = JSON.stringify({ subscription: 'sub-1', resourceGroup: 'rg-1', ttl: '2h' });
  const headers = { 'content-type': 'application/json' };
  const anon = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers, body });
  assert.equal(anon.status, 401);
  assert.equal((await anon.json()).code, 'ARCSIM_E_UNAUTHORIZED');
  const wrong = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers: { ...headers, authorization: 'Bearer arcsim_admin_wrong' }, body });
  assert.equal(wrong.status, 401);
  const ok = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${adminKey}` }, body });
  assert.equal(ok.status, 201);
  const created = await ok.json();
  assert.match(created.token, /^arcsim_enroll_/);
  const list = await (await fetch(`${env.url}/api/tokens`, { headers: { authorization: `Bearer ${adminKey}` } })).json();
  assert.equal(JSON.stringify(list).includes(created.token), false, 'token secrets are never listed');
  const badTtl = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${adminKey}` }, body: JSON.stringify({ subscription: 's', resourceGroup: 'r', ttl: 'soon' }) });
  assert.equal((await badTtl.json()).path, 'body.ttl');
  // A first start generates a key once; later starts keep it.
  assert.equal(await env.cp.ensureAdminKey(), undefined);
});

test('health reports the store and, to a caller with a key, its migrations', async (t) => {
  const env = await setup(t);
  const key = await apiKeyFor(env);
  const res = await new Promise<{ status: number; body: string }>((resolve) => {
    request(`${env.url}/api/health`, { headers: { authorization: `Bearer ${key}` } }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode!, body }));
    }).end();
  });
  assert.equal(res.status, 200);
  const h = JSON.parse(res.body);
  assert.deepEqual([h.status, h.store, h.migrations], ['ok', 'sqlite', MIGRATION_VERSIONS]);
});

/**
 * Issue 16: a session hands its batches to the group-commit queue and reads on. Its replies keep
 * the order of its frames all the same: the acks of batches sent back to back come in seq order,
 * all before the error about a malformed frame sent after them, and each batch is stored.
 */
test('batches sent back to back are acked in order, each after its commit, before the reply to the frame after them', async (t) => {
  const env = await setup(t);
  const creds = await enroll(env.url, env.token, 'host-a');
  const a = await RawAgent.connect(env.url, creds);
  t.after(() => a.close());
  await a.register();
  const arrived: Array<[string, unknown]> = [];
  a.ws.on('message', (data) => { const f = JSON.parse(String(data)); arrived.push([f.type, f.seq ?? f.code]); });
  const ssh = loadLibrary().get('ssh-brute-force-failed')!;
  // One TCP write for all five frames, so the control plane reads them in one turn (not as acks come back).
  const socket = (a.ws as unknown as { _socket: import('node:net').Socket })._socket;
  socket.cork();
  for (let seq = 1; seq <= 4; seq++) {
    const events = planEvents(ssh, { detonationId: `d${seq}`, device: { id: creds.agentId, name: 'host-a' }, startTime: Date.now(), seed: `s${seq}` }).map((p) => p.event);
    a.send({ v: 1, type: 'events', seq, events });
  }
  a.send('{"v":1,"type":"events",');
  socket.uncork();
  const error = await a.next('error');
  assert.equal(error.code, 'ARCSIM_E_FRAME_JSON');
  // Wait for the I/O of the replies still on their way (if the error overtook some acks).
  for (let i = 0; i < 250 && arrived.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
  // Every reply, in the order it arrived.
  assert.deepEqual(arrived, [['ack', 1], ['ack', 2], ['ack', 3], ['ack', 4], ['error', 'ARCSIM_E_FRAME_JSON']]);
  assert.deepEqual(a.frames.map((f) => f.stored), [10, 10, 10, 10]);
  assert.equal(await env.store.events.countEvents({ agentId: creds.agentId }), 40);
});
