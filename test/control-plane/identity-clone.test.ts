import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import type { MachineFacts } from '../../protocol/index.ts';
import { apiKeyFor, cleanup, enroll, keyedFetch, RawAgent, startControlPlane, TEST_FACTS } from '../helpers.ts';

const host = (hostname: string, vmUuid: string, mac: string): MachineFacts => ({
  ...TEST_FACTS, hostname, machineFqdn: `${hostname}.contoso.test`, vmUuid,
  networkInterfaces: [{ name: 'eth0', macAddress: mac, ipAddresses: ['10.0.0.' + mac.slice(-1)] }],
});
const HOST_A = host('lab-a', '11111111-AAAA-4000-8000-000000000001', '02:00:00:00:00:0a');
const HOST_B = host('lab-b', '22222222-BBBB-4000-8000-000000000002', '02:00:00:00:00:0b');

function fatalOf(agent: Agent): Promise<Error> {
  return new Promise((resolve) => agent.once('fatal', resolve));
}

test('two live agents with one cloned identity: the control plane flags it and refuses the second host', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const dirA = join(env.dir, 'agent-a');
  const a = new Agent({ controlPlane: env.url, token: token.token, stateDir: dirA, facts: async () => ({ machine: HOST_A, sqlInstances: [] }), backoffMinMs: 20 });
  t.after(() => a.stop());
  const ra = a.waitRegistered();
  await a.start();
  await ra;

  // The state dir is copied to another host (a cloned VM image), which starts without a token.
  const dirB = join(env.dir, 'agent-b');
  mkdirSync(dirB, { recursive: true, mode: 0o700 });
  copyFileSync(join(dirA, 'identity.json'), join(dirB, 'identity.json'));
  const b = new Agent({ controlPlane: env.url, stateDir: dirB, facts: async () => ({ machine: HOST_B, sqlInstances: [] }), backoffMinMs: 20 });
  t.after(() => b.stop());
  const flagged = new Promise<string[]>((resolve) => env.cp.once('clone-suspected', (_id: string, diff: string[]) => resolve(diff)));
  const fatal = fatalOf(b);
  await b.start();
  assert.equal(b.agentId, a.agentId, 'same identity');
  assert.deepEqual(await flagged, ['hostname', 'vmUuid', 'macAddresses']);
  assert.match((await fatal).message, /ARCSIM_E_IDENTITY_CLONED/);

  // Visible in the API: the conflict, and the flag on the machine, which still shows host A.
  const authed = keyedFetch(await apiKeyFor(env));
  const conflicts = (await (await authed(`${env.url}/api/identity-conflicts`)).json()).value;
  assert.equal(conflicts.length, 1);
  assert.equal(conflicts[0].agentId, a.agentId);
  assert.deepEqual([conflicts[0].live.hostname, conflicts[0].refused.hostname], ['lab-a', 'lab-b']);
  const machine = await (await authed(`${env.url}/api/machines/lab-a`)).json();
  assert.equal(machine.arcsim.cloneSuspected, true);
  assert.equal(machine.properties.vmUuid, HOST_A.vmUuid, 'not merged: the live host keeps its machine');
  assert.deepEqual(env.cp.connectedAgents(), [a.agentId]);
  assert.equal(env.cp.session(a.agentId!)?.facts?.hostname, 'lab-a');
  assert.ok(a.connected);

  // No reconnect ping-pong: the refused copy stays down, nothing more is recorded.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await env.store.machines.listIdentityConflicts()).length, 1);
  assert.ok(a.connected);
});

test('a cloned agent that has its token enrolls again as its own machine', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const dirA = join(env.dir, 'agent-a');
  const a = new Agent({ controlPlane: env.url, token: token.token, stateDir: dirA, facts: async () => ({ machine: HOST_A, sqlInstances: [] }) });
  t.after(() => a.stop());
  const ra = a.waitRegistered();
  await a.start();
  await ra;
  const dirB = join(env.dir, 'agent-b');
  mkdirSync(dirB, { recursive: true, mode: 0o700 });
  copyFileSync(join(dirA, 'identity.json'), join(dirB, 'identity.json'));
  const b = new Agent({ controlPlane: env.url, token: token.token, stateDir: dirB, facts: async () => ({ machine: HOST_B, sqlInstances: [] }), backoffMinMs: 20 });
  t.after(() => b.stop());
  const rb = b.waitRegistered();
  await b.start();
  const reg = await rb;
  assert.notEqual(b.agentId, a.agentId);
  assert.match(reg.machineId, /\/machines\/lab-b$/);
  assert.equal((await env.store.machines.listIdentityConflicts(a.agentId)).length, 1);
  assert.deepEqual(env.cp.connectedAgents().sort(), [a.agentId, b.agentId].sort());
});

test('the same host reconnecting (half-open old socket) replaces its old connection; no clone is flagged', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const creds = await enroll(env.url, token.token);
  const old = await RawAgent.connect(env.url, creds);
  await old.register(HOST_A);
  const fresh = await RawAgent.connect(env.url, creds);
  t.after(() => fresh.close());
  // Same facts as far as both know them (the newcomer could not read its UUID this time).
  await fresh.register({ ...HOST_A, vmUuid: undefined });
  assert.equal((await old.next('error')).code, 'ARCSIM_E_REPLACED');
  assert.equal((await old.closed).code, 4409);
  assert.equal((await env.store.machines.listIdentityConflicts()).length, 0);
  assert.deepEqual(env.cp.connectedAgents(), [creds.agentId]);
});
