import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { loadLibrary } from '../../scenarios/index.ts';
import { cleanup, startControlPlane, TEST_FACTS } from '../helpers.ts';

const ssh = loadLibrary().get('ssh-brute-force-failed')!;

test('Defender for Servers on: MDE is provisioned and endpoint events flow; off: it is removed and they stop', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-plans', resourceGroup: 'rg' });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }) });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  const extensionsNow = () => new Promise<string[]>((resolve) => agent.once('extensions', (list: Array<{ name: string }>) => resolve(list.map((e) => e.name))));
  const play = async () => {
    const detonationId = randomUUID();
    const r = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: ssh as any, detonationId });
    return { r, stored: await env.store.events.countEvents({ detonationId }) };
  };

  // No plan yet: no sensor, nothing collected.
  const before = await play();
  assert.deepEqual([before.r.events, before.stored, before.r.notCollected], [0, 0, { DeviceLogonEvents: 10 }]);

  const installed = extensionsNow();
  const on = await env.cp.adminRequest('PUT', '/api/plans', { scope: 'subscription', id: 'sub-plans', plan: 'VirtualMachines', enabled: true, subPlan: 'P2' });
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.deepEqual(await installed, ['MDE.Linux'], 'the plan sent MDE.Linux to the agent');
  const during = await play();
  assert.deepEqual([during.r.events, during.stored], [10, 10], 'endpoint events flow');
  assert.equal((await env.store.alerts.listAlerts({ alertType: 'VM_SshBruteForceFailed' })).length, 1);

  const removed = extensionsNow();
  const off = await env.cp.adminRequest('PUT', '/api/plans', { scope: 'subscription', id: 'sub-plans', plan: 'VirtualMachines', enabled: false });
  assert.equal(off.status, 200);
  assert.deepEqual(await removed, [], 'the plan removed MDE.Linux');
  const after = await play();
  assert.deepEqual([after.r.events, after.stored], [0, 0], 'endpoint events stop');
});
