import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Agent } from '../../agent/index.ts';
import { loadIdentity } from '../../agent/identity.ts';
import { loadLibrary } from '../../scenarios/index.ts';
import { cleanup, enableExtensions, enroll, RawAgent, startControlPlane, TEST_FACTS, type TestControlPlane } from '../helpers.ts';

/**
 * Issue 12, "Keys cannot be contained" and the token TTL 500s: token use limits, cascading token
 * revocation, agent key revocation and rotation, machine deletion, and library scenarios played
 * by slug. Real sockets on loopback, real Agent instances, a real SQLite file.
 */

const ssh = loadLibrary().get('ssh-brute-force-failed')!;

/** Attempts a WebSocket upgrade: the HTTP status and body of a refusal, or that a socket opened. */
function upgrade(url: string, creds: { agentId: string; agentKey: string }): Promise<{ status?: number; code?: string; opened: boolean }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/agent/v1`, { headers: { authorization: `Bearer ${creds.agentId}.${creds.agentKey}` } });
    ws.on('open', () => { ws.close(); resolve({ opened: true }); });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, code: JSON.parse(text).code, opened: false }));
    });
    ws.on('error', (err) => { if (!String(err.message).includes('Unexpected server response')) reject(err); });
  });
}

async function setup(t: { after(fn: () => unknown): void }): Promise<TestControlPlane & { adminKey: string }> {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  return { ...env, adminKey: (await env.cp.ensureAdminKey({ reset: true }))! };
}

const json = { 'content-type': 'application/json' };
const admin = (env: { adminKey: string }) => ({ ...json, authorization: `Bearer ${env.adminKey}` });
/** For calls without a body (Fastify refuses an empty JSON body). */
const key = (env: { adminKey: string }) => ({ authorization: `Bearer ${env.adminKey}` });

/** An Agent on its own state dir, started and registered; `fatal` resolves with the error that stopped it for good. */
async function startAgent(t: { after(fn: () => unknown): void }, env: TestControlPlane, token: string, name: string) {
  const agent = new Agent({
    controlPlane: env.url, token, stateDir: join(env.dir, name), backoffMinMs: 20, backoffMaxMs: 100,
    facts: async () => ({ machine: { ...TEST_FACTS, hostname: name }, sqlInstances: [] }),
  });
  t.after(() => agent.stop());
  const fatal = new Promise<Error>((resolve) => agent.once('fatal', resolve));
  const closed = new Promise<number>((resolve) => agent.once('disconnected', (code: number) => resolve(code)));
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  return { agent, fatal, closed, creds: { agentId: agent.agentId!, agentKey: agent.identity!.agentKey }, stateDir: join(env.dir, name) };
}

/** Counts WebSocket upgrade attempts reaching the control plane from now on. */
function countUpgrades(env: TestControlPlane): () => number {
  let n = 0;
  env.cp.app.server.on('upgrade', () => n++);
  return () => n;
}

test('POST /api/tokens: a ttl of 400d, 0s or 99999999d is a 400 ARCSIM_E_VALIDATION at body.ttl (was a 500)', async (t) => {
  const env = await setup(t);
  for (const ttl of ['400d', '0s', '99999999d']) {
    const res = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers: admin(env), body: JSON.stringify({ subscription: 's', resourceGroup: 'rg', ttl }) });
    const body = await res.json();
    assert.deepEqual([res.status, body.code, body.path], [400, 'ARCSIM_E_VALIDATION', 'body.ttl'], `ttl ${ttl}: ${JSON.stringify(body)}`);
  }
  const year = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers: admin(env), body: JSON.stringify({ subscription: 's', resourceGroup: 'rg', ttl: '365d' }) });
  assert.equal(year.status, 201, '365 days is the longest allowed');
  const zero = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers: admin(env), body: JSON.stringify({ subscription: 's', resourceGroup: 'rg', maxUses: 0 }) });
  assert.deepEqual([zero.status, (await zero.json()).path], [400, 'body.maxUses']);
});

test('a token from POST /api/tokens enrolls one agent unless maxUses says more; the next gets ARCSIM_E_TOKEN_EXHAUSTED; concurrent enrollments never exceed it', async (t) => {
  const env = await setup(t);
  const create = async (extra: Record<string, unknown> = {}) => {
    const res = await fetch(`${env.url}/api/tokens`, { method: 'POST', headers: admin(env), body: JSON.stringify({ subscription: 's', resourceGroup: 'rg', ...extra }) });
    assert.equal(res.status, 201);
    return res.json() as Promise<{ id: string; token: string; maxUses: number | null }>;
  };
  const post = (token: string) => fetch(`${env.url}/api/enroll`, { method: 'POST', headers: json, body: JSON.stringify({ token }) });

  const single = await create();
  assert.equal(single.maxUses, 1, 'one VM per token by default');
  assert.equal((await post(single.token)).status, 201);
  const second = await post(single.token);
  assert.deepEqual([second.status, (await second.json()).code], [401, 'ARCSIM_E_TOKEN_EXHAUSTED']);

  // Two enrollments racing for the single use of a token: exactly one wins.
  const race = await create();
  const answers = await Promise.all([post(race.token), post(race.token)]);
  assert.deepEqual(answers.map((r) => r.status).sort(), [201, 401]);
  const three = await create({ maxUses: 3 });
  const many = await Promise.all(Array.from({ length: 8 }, () => post(three.token)));
  assert.equal(many.filter((r) => r.status === 201).length, 3);
  const listed = (await (await fetch(`${env.url}/api/tokens`, { headers: admin(env) })).json()).value.find((x: { id: string }) => x.id === three.id);
  assert.deepEqual([listed.uses, listed.maxUses], [3, 3]);
});

test('agent revoke: the agent is closed with 4401 ARCSIM_E_AGENT_REVOKED, stops without reconnecting, and its key is refused at the upgrade', async (t) => {
  const env = await setup(t);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const a = await startAgent(t, env, token.token, 'host-revoked');
  const upgrades = countUpgrades(env);

  const res = await fetch(`${env.url}/api/agents/host-revoked/revoke`, { method: 'POST', headers: key(env) });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).agentId, a.creds.agentId);
  assert.equal(await a.closed, 4401);
  const err = await a.fatal;
  assert.match(err.message, /revoked/);
  assert.equal((err as Error & { code?: string }).code, 'ARCSIM_E_AGENT_REVOKED');
  // Its backoff is 20-100 ms: a reconnect loop would have come back several times by now.
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(upgrades(), 0, 'the revoked agent did not try to reconnect (or re-enroll with its token)');
  assert.deepEqual(env.cp.connectedAgents(), []);
  const again = await upgrade(env.url, a.creds);
  assert.deepEqual([again.status, again.code, again.opened], [401, 'ARCSIM_E_AGENT_REVOKED', false]);
  // Unknown agent or machine: 404.
  const unknown = await fetch(`${env.url}/api/agents/no-such-host/revoke`, { method: 'POST', headers: key(env) });
  assert.equal((await unknown.json()).code, 'ARCSIM_E_NOT_FOUND');
});

test('token revoke --cascade: every agent enrolled with the token is disconnected at once and cannot reconnect; other agents stay', async (t) => {
  const env = await setup(t);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg', maxUses: 5 });
  const other = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const a = await startAgent(t, env, token.token, 'host-a');
  const rawCreds = await enroll(env.url, token.token, 'host-b');
  const b = await RawAgent.connect(env.url, rawCreds);
  t.after(() => b.close());
  await b.register({ ...TEST_FACTS, hostname: 'host-b' });
  const keep = await startAgent(t, env, other.token, 'host-keep');

  const res = await fetch(`${env.url}/api/tokens/${token.id}?cascade=true`, { method: 'DELETE', headers: key(env) });
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).revokedAgents.sort(), [a.creds.agentId, rawCreds.agentId].sort());
  assert.equal(await a.closed, 4401);
  assert.equal((await b.closed).code, 4401);
  assert.equal((err => err.code)(await a.fatal as Error & { code?: string }), 'ARCSIM_E_AGENT_REVOKED');
  for (const creds of [a.creds, rawCreds]) assert.equal((await upgrade(env.url, creds)).code, 'ARCSIM_E_AGENT_REVOKED');
  assert.deepEqual(env.cp.connectedAgents(), [keep.creds.agentId], 'the agent of another token stays connected');
  const enrollAgain = await fetch(`${env.url}/api/enroll`, { method: 'POST', headers: json, body: JSON.stringify({ token: token.token }) });
  assert.equal((await enrollAgain.json()).code, 'ARCSIM_E_TOKEN_INVALID');
  // Without --cascade (the token's agents stay): already revoked is a 404.
  const plain = await fetch(`${env.url}/api/tokens/${token.id}`, { method: 'DELETE', headers: key(env) });
  assert.equal(plain.status, 404);
});

test('agent rotate: the agent stores the new key, the old key is refused after, the new one works, and the agent keeps streaming', async (t) => {
  const env = await setup(t);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const a = await startAgent(t, env, token.token, 'host-rotate');
  await enableExtensions(env.cp, a.creds.agentId);
  const rotated = new Promise<void>((resolve) => a.agent.once('key-rotated', () => resolve()));

  const res = await fetch(`${env.url}/api/agents/${a.creds.agentId}/rotate`, { method: 'POST', headers: key(env) });
  assert.equal(res.status, 200, await res.clone().text());
  await rotated;
  const stored = loadIdentity(a.stateDir)!;
  assert.notEqual(stored.agentKey, a.creds.agentKey, 'the identity file holds the new key');
  assert.equal(stored.agentId, a.creds.agentId);
  const old = await upgrade(env.url, a.creds);
  assert.deepEqual([old.status, old.code], [401, 'ARCSIM_E_AGENT_AUTH'], 'the old key is refused');
  assert.equal((await upgrade(env.url, { agentId: stored.agentId, agentKey: stored.agentKey })).opened, true, 'the new key opens a socket');

  // The same connection keeps streaming: a scenario played now is stored and alerted on.
  const result = await env.cp.command(a.creds.agentId, { action: 'run-scenario', scenario: ssh as any, detonationId: 'after-rotate' });
  assert.equal(result.ok, true, result.message);
  assert.equal(await env.store.events.countEvents({ detonationId: 'after-rotate' }), 10);

  // A restarted agent connects with the key in its identity file.
  await a.agent.stop();
  const restarted = new Agent({ controlPlane: env.url, stateDir: a.stateDir, facts: async () => ({ machine: { ...TEST_FACTS, hostname: 'host-rotate' }, sqlInstances: [] }) });
  t.after(() => restarted.stop());
  const reg = restarted.waitRegistered();
  await restarted.start();
  await reg;
  assert.equal(restarted.agentId, a.creds.agentId);

  // Offline agents cannot be rotated: 409, and their key stays as it was.
  await restarted.stop();
  await new Promise((r) => setTimeout(r, 50));
  const offline = await fetch(`${env.url}/api/agents/host-rotate/rotate`, { method: 'POST', headers: key(env) });
  assert.deepEqual([offline.status, (await offline.json()).code], [409, 'ARCSIM_E_AGENT_OFFLINE']);
  assert.equal((await upgrade(env.url, { agentId: stored.agentId, agentKey: stored.agentKey })).opened, true);
});

test('DELETE /api/machines/NAME: the machine leaves the inventory, its agent is revoked and disconnected, its alerts stay', async (t) => {
  const env = await setup(t);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const a = await startAgent(t, env, token.token, 'host-delete');
  await enableExtensions(env.cp, a.creds.agentId);
  await env.cp.command(a.creds.agentId, { action: 'run-scenario', scenario: ssh as any, detonationId: 'before-delete' });
  const alertsBefore = (await env.cp.adminRequest('GET', '/api/alerts?detonationId=before-delete')).body.value;
  assert.equal(alertsBefore.length, 1);
  const resourceId = (await env.store.machines.getMachine(a.creds.agentId))!.resourceId;
  assert.ok(JSON.stringify((await env.cp.adminRequest('GET', '/api/assets')).body).includes(resourceId), 'the machine is an asset before');

  const del = await fetch(`${env.url}/api/machines/host-delete`, { method: 'DELETE', headers: key(env) });
  assert.equal(del.status, 200);
  assert.deepEqual((({ name, agentId }) => ({ name, agentId }))(await del.json()), { name: 'host-delete', agentId: a.creds.agentId });
  assert.equal(await a.closed, 4401);
  await a.fatal;
  const machines = (await env.cp.adminRequest('GET', '/api/machines')).body.value;
  assert.deepEqual(machines.map((m: { name: string }) => m.name), []);
  assert.equal((await env.cp.adminRequest('GET', '/api/machines/host-delete')).status, 404);
  assert.equal(JSON.stringify((await env.cp.adminRequest('GET', '/api/assets')).body).includes(resourceId), false, 'nor an asset after');
  assert.equal((await upgrade(env.url, a.creds)).code, 'ARCSIM_E_AGENT_REVOKED', 'it cannot register the machine again');
  const alertsAfter = (await env.cp.adminRequest('GET', '/api/alerts?detonationId=before-delete')).body.value;
  assert.deepEqual(alertsAfter.map((x: { name: string }) => x.name), alertsBefore.map((x: { name: string }) => x.name), 'alerts stay as history');
  assert.equal(await env.store.events.countEvents({ detonationId: 'before-delete' }), 10, 'events stay');
  assert.equal((await fetch(`${env.url}/api/machines/host-delete`, { method: 'DELETE', headers: key(env) })).status, 404);
  const anon = await fetch(`${env.url}/api/machines/host-delete`, { method: 'DELETE' });
  assert.equal(anon.status, 401, 'deleting needs a key');
});

test('POST /api/machines/NAME/scenarios plays a library scenario by slug on the connected agent and raises its alert', async (t) => {
  const env = await setup(t);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const a = await startAgent(t, env, token.token, 'host-play');
  await enableExtensions(env.cp, a.creds.agentId);
  const run = (body: Record<string, unknown>, machine = 'host-play') =>
    fetch(`${env.url}/api/machines/${machine}/scenarios`, { method: 'POST', headers: admin(env), body: JSON.stringify(body) });

  const res = await run({ scenario: 'ssh-brute-force-failed', wait: true, seed: 7 });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual([body.ok, body.events, body.scenario, body.machine], [true, 10, 'ssh-brute-force-failed', 'host-play']);
  const alerts = (await env.cp.adminRequest('GET', `/api/alerts?detonationId=${body.detonationId}`)).body.value;
  // What the library file expects of this scenario (scenarios/library/ssh-brute-force-failed.yaml).
  assert.deepEqual(alerts.map((x: { properties: { alertType: string } }) => x.properties.alertType), ['VM_SshBruteForceFailed']);

  // Without wait: 202 with the detonation id at once.
  const sent = await run({ scenario: ssh.id });
  assert.equal(sent.status, 202);
  assert.match((await sent.json()).detonationId, /^[0-9a-f-]{36}$/);

  const unknown = await run({ scenario: 'no-such-scenario' });
  assert.deepEqual([unknown.status, ...Object.values((({ code, path }) => ({ code, path }))(await unknown.json()))], [404, 'ARCSIM_E_NOT_FOUND', 'body.scenario']);
  const noMachine = await run({ scenario: 'ssh-brute-force-failed' }, 'no-such-host');
  assert.equal((await noMachine.json()).code, 'ARCSIM_E_NOT_FOUND');
  await a.agent.stop();
  await new Promise((r) => setTimeout(r, 50));
  const offline = await run({ scenario: 'ssh-brute-force-failed' });
  assert.deepEqual([offline.status, (await offline.json()).code], [409, 'ARCSIM_E_AGENT_OFFLINE']);
});
