import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { applyPersona, loadPersona } from '../../agent/index.ts';
import { isServerOs, type MachineFacts } from '../../protocol/index.ts';
import type { ControlPlaneConfig } from '../../control-plane/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS } from '../helpers.ts';

// Seed: "In MDC, only server OS-related alerts are synced from MDE to MDC."
const library = loadLibrary();
const persona = (file: string): MachineFacts => applyPersona({ machine: TEST_FACTS, sqlInstances: [] }, loadPersona(file)).machine;
const CLIENT = persona(join(import.meta.dirname, '..', 'fixtures', 'personas', 'windows-11-client.yaml'));
const SERVER = persona(join(import.meta.dirname, '..', '..', 'examples', 'personas', 'ec2-sql-server.yaml'));

async function copiesOnEach(t: { after(fn: () => unknown): void }, config: ControlPlaneConfig): Promise<Record<string, string[]>> {
  const env = await startControlPlane({ config });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
  const reader = await apiKeyFor(env);
  const out: Record<string, string[]> = {};
  for (const facts of [CLIENT, SERVER]) {
    const creds = await enroll(env.url, token.token, facts.hostname);
    const a = await RawAgent.connect(env.url, creds);
    t.after(() => a.close());
    await a.register(facts);
    const events = planEvents(library.get('fileless-attack-windows')!, {
      detonationId: `dt-${facts.hostname}`, device: { id: creds.agentId, name: facts.hostname }, startTime: Date.now() - 60_000, seed: 1,
    }).map((p) => p.event);
    a.send({ v: 1, type: 'events', seq: 1, events });
    await a.next('ack');
    const res = await fetch(`${env.url}/api/alerts?detonationId=dt-${facts.hostname}`, { headers: { authorization: `Bearer ${reader}` } });
    const alerts = ((await res.json()) as { value: any[] }).value.filter((x) => x.properties.alertType === 'VM_FilelessAttackTechnique.Windows');
    assert.equal(alerts.length, 1, `one fileless alert on ${facts.hostname}`);
    out[facts.osSku!] = alerts[0].arcsim.copies.map((c: { product: string }) => c.product).sort();
  }
  return out;
}

test('server-OS rule: an MDE alert on a Windows 11 client stays in MDE and M365D; on Windows Server it also reaches MDC', async (t) => {
  const copies = await copiesOnEach(t, {});
  assert.deepEqual(copies['Windows 11 Pro'], ['M365D', 'MDE']);
  assert.deepEqual(copies['Windows Server 2022 Datacenter'], ['M365D', 'MDC', 'MDE']);
});

test('server-OS rule: with Sentinel as the hub, the client alert still reaches Sentinel but not MDC', async (t) => {
  const copies = await copiesOnEach(t, { sync: { profile: 'sentinel-hub' } });
  assert.deepEqual(copies['Windows 11 Pro'], ['M365D', 'MDE', 'Sentinel']);
  assert.deepEqual(copies['Windows Server 2022 Datacenter'], ['M365D', 'MDC', 'MDE', 'Sentinel']);
});

test('server OS from the OS facts: Windows Server and Linux distributions are servers, Windows 10/11 and macOS are clients', () => {
  // Names as Arc and systeminformation report them.
  assert.equal(isServerOs({ osType: 'windows', osSku: 'Windows Server 2019 Standard', osVersion: '10.0.17763' }), true);
  assert.equal(isServerOs({ osType: 'windows', osSku: 'Windows 10 Enterprise', osVersion: '10.0.17763' }), false, 'build 17763 is also Windows 10 1809');
  assert.equal(isServerOs({ osType: 'windows', osSku: 'Microsoft Windows 11 Pro', osVersion: '10.0.22631' }), false);
  assert.equal(isServerOs({ osType: 'windows', osEdition: 'ServerDatacenter' }), true);
  assert.equal(isServerOs({ osType: 'windows', osVersion: '10.0.20348' }), true, 'build 20348 exists only as Windows Server 2022');
  assert.equal(isServerOs({ osType: 'windows', osVersion: '10.0.19045' }), false);
  // MDE on Linux is Defender for Servers' sensor: Linux machines count as servers.
  assert.equal(isServerOs({ osType: 'linux', osSku: 'Debian GNU/Linux 12' }), true);
  assert.equal(isServerOs({ osType: 'linux', osSku: 'Ubuntu 22.04.4 LTS' }), true);
  assert.equal(isServerOs({ osType: 'darwin', osSku: 'macOS 14.4' }), false);
});
