import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { collectHostFacts } from '../../agent/host-facts.ts';
import { EventSchema } from '../../protocol/index.ts';
import { until } from '../chaos/chaos-support.ts';
import { apiKeyFor, cleanup, enableExtensions, keyedFetch, startControlPlane } from '../helpers.ts';

// Issue 13, item 1: the agent fills the MDE state tables DeviceInfo and DeviceNetworkInfo from
// the host's real facts. Expected values come from the OS (node:os), not from the agent's code.

/** This host's adapters with an external address, as the OS reports them: name -> {mac, addresses}. */
function hostAdapters(): Map<string, { mac: string; addresses: Array<{ ip: string; prefix: number }> }> {
  const out = new Map<string, { mac: string; addresses: Array<{ ip: string; prefix: number }> }>();
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    const external = (addrs ?? []).filter((a) => !a.internal);
    if (external.length === 0) continue;
    out.set(name, { mac: external[0]!.mac, addresses: external.map((a) => ({ ip: a.address, prefix: Number(a.cidr!.split('/')[1]) })) });
  }
  return out;
}

test('a real agent on loopback sends DeviceInfo and one DeviceNetworkInfo per adapter with the host\'s real MAC and IPs, readable through the events API', async (t) => {
  const adapters = hostAdapters();
  if (adapters.size === 0) {
    t.skip('this host has no network adapter with an external address');
    return;
  }
  const env = await startControlPlane();
  t.after(() => cleanup(env.dir));
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  // The host's real facts (os, DMI, interfaces); no cloud metadata request is made by collectHostFacts.
  const host = await collectHostFacts();
  const agent = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'),
    facts: async () => ({ machine: host.machine, sqlInstances: [] }),
  });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  await until(async () => (await env.store.events.countEvents({ agentId: agent.agentId! })) >= 1 + adapters.size, 'the state rows to be stored');

  const get = keyedFetch(await apiKeyFor(env));
  const res = await get(`${env.url}/api/events?agentId=${agent.agentId}`);
  assert.equal(res.status, 200);
  const { value } = (await res.json()) as { value: Array<Record<string, unknown>> };
  for (const row of value) assert.ok(EventSchema.safeParse(row).success, `stored row is a valid ${String(row.Table)} row`);

  const infos = value.filter((r) => r.Table === 'DeviceInfo');
  assert.equal(infos.length, 1);
  const info = infos[0]!;
  assert.equal(info.DeviceId, agent.agentId);
  assert.equal(info.DeviceName, host.machine.machineFqdn);
  assert.equal(info.OSPlatform, process.platform === 'linux' ? 'Linux' : process.platform === 'darwin' ? 'macOS' : info.OSPlatform);
  assert.equal(info.OnboardingStatus, 'Can be onboarded', 'no MDE extension installed yet');
  assert.equal(info.ActionType, undefined, 'DeviceInfo has no ActionType');

  const nics = value.filter((r) => r.Table === 'DeviceNetworkInfo');
  assert.deepEqual(new Set(nics.map((n) => n.NetworkAdapterName)), new Set(adapters.keys()), 'one row per adapter');
  for (const nic of nics) {
    const real = adapters.get(nic.NetworkAdapterName as string)!;
    if (real.mac !== '00:00:00:00:00:00') {
      assert.equal(nic.MacAddress, real.mac.replaceAll(':', '').toUpperCase(), `${String(nic.NetworkAdapterName)}: the adapter's MAC`);
    }
    assert.equal(nic.NetworkAdapterStatus, 'Up');
    const ips = nic.IPAddresses as Array<{ IPAddress: string; SubnetPrefix: number; AddressType: string }>;
    assert.ok(Array.isArray(ips), 'IPAddresses is a JSON array');
    assert.deepEqual(ips.map((a) => ({ ip: a.IPAddress, prefix: a.SubnetPrefix })), real.addresses);
  }

  // Installing MDE changes what DeviceInfo says (onboarded): after the next registration
  // (control plane restarted on the same store and port) the agent sends the rows again.
  await enableExtensions(env.cp, agent.agentId!);
  const port = Number(new URL(env.url).port);
  await new Promise<void>((resolve) => { agent.once('disconnected', () => resolve()); void env.close(); });
  const env2 = await startControlPlane({ dir: env.dir, config: { port } });
  t.after(async () => { await env2.close(); });
  await until(async () => (await env2.store.events.listEvents({ agentId: agent.agentId! })).filter((r) => r.Table === 'DeviceInfo').length === 2, 'a second DeviceInfo row');
  const rows = await env2.store.events.listEvents({ agentId: agent.agentId! });
  const latest = rows.filter((r) => r.Table === 'DeviceInfo').sort((a, b) => a.ReportId.localeCompare(b.ReportId)).at(-1)!;
  assert.equal(latest.OnboardingStatus, 'Onboarded');
  assert.equal(latest.SensorHealthState, 'Active');
});
