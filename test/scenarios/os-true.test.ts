import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { loadLibrary, wrongOsReason } from '../../scenarios/index.ts';
import type { MachineFacts, SqlInstanceFacts } from '../../protocol/index.ts';
import { cleanup, startControlPlane, TEST_FACTS } from '../helpers.ts';

const library = loadLibrary();
const SQL_SERVER: SqlInstanceFacts = { instanceName: 'MSSQLSERVER', engine: 'sqlserver', version: 'SQL Server 2022', edition: 'Developer', discoveredBy: 'persona' };
const WINDOWS: MachineFacts = { ...TEST_FACTS, hostname: 'win-sql-01', osName: 'windows', osType: 'windows', osVersion: '10.0.20348', osSku: 'Windows Server 2022 Datacenter' };

async function agentOn(t: { after(fn: () => unknown): void }, facts: MachineFacts) {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-os', resourceGroup: 'rg' });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: facts, sqlInstances: [SQL_SERVER] }) });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  return { env, agent };
}

test('OS-true playback: the agent refuses a Windows scenario on a Linux host with ARCSIM_E_PLAY_WRONG_OS and emits nothing; a Linux one plays', async (t) => {
  const { env, agent } = await agentOn(t, TEST_FACTS); // Debian 12
  await env.cp.setExtension((await env.store.machines.getMachine(agent.agentId!))!.name, 'MDE.Linux', true);
  for (const slug of ['fileless-attack-windows', 'suspicious-powershell-encoded']) {
    const detonationId = randomUUID();
    const r = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: library.get(slug) as any, detonationId });
    assert.equal(r.ok, false, slug);
    assert.match(String(r.message), /ARCSIM_E_PLAY_WRONG_OS/);
    assert.match(String(r.message), new RegExp(`${slug} is written for windows; the host runs linux \\(Debian GNU/Linux 12\\)`));
    assert.equal(await env.store.events.countEvents({ detonationId }), 0, 'no Windows event on a Linux host');
  }
  assert.equal((await env.store.alerts.listAlerts()).filter((a) => a.alertType.endsWith('.Windows')).length, 0);
  const detonationId = randomUUID();
  const ok = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: library.get('fileless-attack-linux') as any, detonationId });
  assert.equal(ok.ok, true, ok.message);
  assert.ok((await env.store.events.countEvents({ detonationId })) > 0);
});

test('OS-true plans: Defender for Servers and for SQL deploy only the extensions of the machine\'s OS', async (t) => {
  for (const [facts, want] of [
    [TEST_FACTS, ['LinuxAgent.SqlServer', 'MDE.Linux']],
    [WINDOWS, ['AdvancedThreatProtection.Windows', 'MDE.Windows', 'WindowsAgent.SqlServer']],
  ] as const) {
    const { env, agent } = await agentOn(t, facts);
    for (const plan of ['VirtualMachines', 'SqlServerVirtualMachines']) {
      const r = await env.cp.adminRequest('PUT', '/api/plans', { scope: 'subscription', id: 'sub-os', plan, enabled: true });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const deadline = Date.now() + 10_000;
    let names: string[] = [];
    for (;;) {
      const m = (await env.store.machines.getMachine(agent.agentId!))!;
      names = m.extensions.filter((e) => e.status === 'Succeeded').map((e) => e.name).sort();
      if (names.length === m.extensions.length && names.length >= want.length) break;
      assert.ok(Date.now() < deadline, `extensions not confirmed: ${JSON.stringify(m.extensions)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(names, [...want], `${facts.osSku}`);
  }
});

test('every OS-specific library scenario has a counterpart for the other OS among the lab\'s rows', () => {
  // The lab matrix plays each Windows-only endpoint row's Linux form on Linux hosts (examples/multi-cloud.yaml).
  const linux = { osType: 'linux', osSku: 'Debian GNU/Linux 12' };
  const windows = { osType: 'windows', osSku: 'Windows Server 2022 Datacenter' };
  const onLinux = [...library.values()].filter((s) => !wrongOsReason(s, linux)).map((s) => s.slug);
  const onWindows = [...library.values()].filter((s) => !wrongOsReason(s, windows)).map((s) => s.slug);
  assert.ok(onLinux.includes('fileless-attack-linux') && !onLinux.includes('fileless-attack-windows'));
  assert.ok(onWindows.includes('fileless-attack-windows') && !onWindows.includes('fileless-attack-linux'));
  assert.equal(wrongOsReason({ slug: 'x', platforms: ['onprem', 'aws'] }, linux), undefined, 'a scenario naming no OS plays anywhere');
});
