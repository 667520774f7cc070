import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { loadIdentity } from '../../agent/identity.ts';
import { loadLibrary } from '../../scenarios/index.ts';
import { cleanup, enableExtensions, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';

const facts = async () => ({ machine: TEST_FACTS, sqlInstances: [] });
const ssh = loadLibrary().get('ssh-brute-force-failed')!;

test('the agent reconnects after the control plane restarts and delivers what it queued meanwhile', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  let env = await startControlPlane({ dir });
  const port = Number(new URL(env.url).port);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(dir, 'agent'), facts, backoffMinMs: 20, backoffMaxMs: 200 });
  t.after(() => agent.stop());
  const first = agent.waitRegistered();
  await agent.start();
  const machineId = (await first).machineId;
  await enableExtensions(env.cp, agent.agentId!);

  await env.close(); // the control plane goes away
  await new Promise<void>((resolve) => agent.once('disconnected', () => resolve()));
  // Played while disconnected: the events wait in the outbox, unacked.
  const played = agent.play({ scenario: ssh as any, detonationId: 'offline-play' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(agent.pendingEvents(), 10);

  const again = agent.waitRegistered();
  env = await startControlPlane({ dir, config: { port } }); // same store file, same port
  t.after(async () => { await env.close(); });
  assert.equal((await again).machineId, machineId, 'same identity, same machine');
  assert.equal((await played).events, 10);
  assert.equal(agent.pendingEvents(), 0);
  assert.equal(await env.store.events.countEvents({ detonationId: 'offline-play' }), 10);
  assert.equal((await env.store.alerts.listAlerts({ detonationId: 'offline-play' })).length, 1);
});

test('node_invalid: an agent the control plane does not know re-enrolls with its token', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const old = await startControlPlane({ dir: join(dir, 'old') });
  const oldToken = await old.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const stateDir = join(dir, 'agent');
  const a1 = new Agent({ controlPlane: old.url, token: oldToken.token, stateDir, facts });
  const r1 = a1.waitRegistered();
  await a1.start();
  await r1;
  const firstId = a1.agentId;
  await a1.stop();
  await old.close();

  // A new control plane (fresh store) never heard of this agent.
  const fresh = await startControlPlane({ dir: join(dir, 'new') });
  t.after(() => fresh.close());
  const token = await fresh.cp.createToken({ subscription: 's2', resourceGroup: 'rg2' });
  const a2 = new Agent({ controlPlane: fresh.url, token: token.token, stateDir, facts, backoffMinMs: 20 });
  t.after(() => a2.stop());
  const r2 = a2.waitRegistered();
  await a2.start();
  assert.equal(a2.agentId, firstId, 'starts with the stored identity');
  const reg = await r2;
  assert.notEqual(a2.agentId, firstId, 'and replaced it after node_invalid');
  assert.equal(loadIdentity(stateDir)!.agentId, a2.agentId);
  assert.match(reg.machineId, /\/subscriptions\/s2\/resourceGroups\/rg2\//);
});

test('without a token and without an identity the agent says what to do', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const agent = new Agent({ controlPlane: 'http://127.0.0.1:9', stateDir: join(dir, 'agent'), facts });
  await assert.rejects(agent.start(), /arcsim token create/);
  assert.equal(existsSync(join(dir, 'agent', 'identity.json')), false);
});
