import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../../../agent/index.ts';
import { EventSchema } from '../../../protocol/index.ts';
import { apiKeyFor, cleanup, keyedFetch, startControlPlane, TEST_FACTS } from '../../helpers.ts';

// Issue 17, item 4: the agent reports the host's installed software (here a real dpkg status
// excerpt) as DeviceTvmSoftwareInventory; `vuln import` loads an OSV feed; MDC shows "Machines
// should have vulnerability findings resolved" on the machine and the secure score moves; KQL
// reads both tables. Item 5: SQL VA findings as sub-assessments on the Arc machine.

const fixture = (p: string) => fileURLToPath(new URL(`../../fixtures/${p}`, import.meta.url));
const VM_KEY = '1195afff-c881-495e-9bc5-1486211ae03f';
const SQL_KEY = 'f97aa83c-9b63-4f9a-99f6-b22c4398f936';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('installed software -> OSV feed -> findings, the recommendation on the machine, the secure score, KQL', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const status = join(env.dir, 'status');
  copyFileSync(fixture('dpkg/status'), status);
  const osRelease = join(env.dir, 'os-release');
  writeFileSync(osRelease, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
  const token = await env.cp.createToken({ subscription: 'sub-vuln', resourceGroup: 'rg' });
  const agent = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }),
    softwareInventory: { sources: { platform: 'linux', dpkgStatusPath: status, osReleasePath: osRelease } },
  });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  const machine = (await env.store.machines.getMachine(agent.agentId!))!;

  // The snapshot: seven rows, one per installed package, valid DeviceTvmSoftwareInventory rows.
  const rows = await until('the software snapshot', async () => {
    const r = await env.store.events.scanEvents({ table: 'DeviceTvmSoftwareInventory', limit: 100 });
    return r.length === 7 ? r : undefined;
  });
  for (const r of rows) assert.ok(EventSchema.safeParse(r).success);
  const expat = rows.find((r) => (r as Record<string, unknown>).SoftwareName === 'libexpat1') as Record<string, unknown>;
  assert.equal(expat.SoftwareVersion, '2.5.0-1+deb12u1');
  assert.deepEqual(expat.AdditionalFields, { SnapshotRows: 7, Ecosystem: 'Debian:12', SourceName: 'expat', SourceVersion: '2.5.0-1+deb12u1' });
  assert.equal(await agent.checkSoftware(), false, 'nothing changed: no second snapshot');

  // No advisory yet: the machine is assessed healthy.
  await env.cp.vulnerabilities.assess();
  const before = (await env.cp.adminRequest('GET', '/api/secure-score')).body.value.find((s: { subscription: string }) => s.subscription === 'sub-vuln');
  const recBefore = (await env.cp.adminRequest('GET', '/api/recommendations?status=all')).body.value.find((r: { assessmentKey: string }) => r.assessmentKey === VM_KEY);
  assert.equal(recBefore.status, 'Healthy');

  // A reader may not load a feed; a contributor may (through the CLI's client, on a socket).
  const reader = keyedFetch(await apiKeyFor(env, 'reader'));
  const feed = readFileSync(fixture('osv/debian-bookworm-sample.json'), 'utf8');
  const refused = await reader(`${env.url}/api/vulnerabilities/advisories`, { method: 'POST', body: feed, headers: { 'content-type': 'application/json' } });
  assert.equal(refused.status, 403);
  const contributor = keyedFetch(await apiKeyFor(env, 'contributor'));
  const res = await contributor(`${env.url}/api/vulnerabilities/advisories`, { method: 'POST', body: feed, headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 201);
  assert.deepEqual(await res.json(), { advisories: 7, stored: 7, unchanged: 0, withdrawn: 0, total: 7 });
  const again = await contributor(`${env.url}/api/vulnerabilities/advisories`, { method: 'POST', body: feed, headers: { 'content-type': 'application/json' } });
  assert.deepEqual(await again.json(), { advisories: 7, stored: 0, unchanged: 7, withdrawn: 0, total: 7 }, 'the same feed twice changes nothing');

  const rec = (await env.cp.adminRequest('GET', '/api/recommendations')).body.value.find((r: { assessmentKey: string }) => r.assessmentKey === VM_KEY);
  assert.equal(rec.displayName, 'Machines should have vulnerability findings resolved');
  assert.equal(rec.status, 'Unhealthy');
  assert.equal(rec.resourceId, machine.resourceId);
  assert.equal(rec.details.findings, 5);
  assert.deepEqual(rec.details.vulnerablePackages, ['libexpat1', 'libgnutls30', 'libgssapi-krb5-2', 'libjq1']);
  const after = (await env.cp.adminRequest('GET', '/api/secure-score')).body.value.find((s: { subscription: string }) => s.subscription === 'sub-vuln');
  assert.ok(after.score < before.score, `the secure score moves down (${before.score} -> ${after.score})`);
  assert.equal(after.unhealthy, before.unhealthy + 1);

  // KQL: both tables, as advanced hunting names them.
  const hunt = async (query: string) => (await env.cp.adminRequest('POST', '/api/advancedqueries/run', { Query: query })).body;
  const inv = await hunt('DeviceTvmSoftwareInventory | where SoftwareName == "libjq1" | project SoftwareName, SoftwareVersion, ProductCodeCpe');
  assert.deepEqual(inv.Results, [{ SoftwareName: 'libjq1', SoftwareVersion: '1.6-2.1+deb12u1', ProductCodeCpe: 'not available' }]);
  const vul = await hunt('DeviceTvmSoftwareVulnerabilities | summarize n = count() by SoftwareName | order by SoftwareName asc');
  assert.deepEqual(vul.Results, [
    { SoftwareName: 'libexpat1', n: 2 }, { SoftwareName: 'libgnutls30', n: 1 }, { SoftwareName: 'libgssapi-krb5-2', n: 1 }, { SoftwareName: 'libjq1', n: 1 },
  ]);
  const one = await hunt('DeviceTvmSoftwareVulnerabilities | take 1');
  assert.deepEqual(one.Schema.map((c: { Name: string }) => c.Name).sort(), readFileSync(fixture('mde-schema/DeviceTvmSoftwareVulnerabilities.md'), 'utf8')
    .split('\n').map((l) => /^\| `(\w+)`/.exec(l)?.[1]).filter(Boolean).sort(), 'the KQL table has exactly the documented columns');

  // The host upgrades jq to the fixed version: a new snapshot, one finding fewer.
  writeFileSync(status, readFileSync(status, 'utf8').replace('Version: 1.6-2.1+deb12u1', 'Version: 1.6-2.1+deb12u3'));
  assert.equal(await agent.checkSoftware(), true, 'a changed package database is a new snapshot');
  await until('the reassessment', async () => {
    await env.cp.vulnerabilities.assess([agent.agentId!]);
    const r = (await env.cp.adminRequest('GET', '/api/recommendations')).body.value.find((x: { assessmentKey: string }) => x.assessmentKey === VM_KEY);
    return r?.details.findings === 4 ? r : undefined;
  });
  const subs = await env.cp.adminRequest('GET', `/subscriptions/sub-vuln/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/${machine.name}/providers/Microsoft.Security/assessments/${VM_KEY}/subAssessments?api-version=2019-01-01-preview`);
  assert.equal(subs.status, 200);
  assert.deepEqual(subs.body.value.map((s: { properties: { id: string } }) => s.properties.id).sort(), ['CVE-2024-28757', 'CVE-2025-3576', 'CVE-2026-3833', 'CVE-2026-56132']);
});

test('a feed that is not OSV gets ARCSIM_E_OSV_FEED with the path, and nothing is stored', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const r = await env.cp.adminRequest('POST', '/api/vulnerabilities/advisories', JSON.stringify([{ id: 'DSA-1-1', modified: '2026-01-01T00:00:00Z' }, { id: 'x' }]));
  assert.equal(r.status, 422);
  assert.equal(r.body.code, 'ARCSIM_E_OSV_FEED');
  assert.equal(r.body.path, '1.modified');
  assert.equal(await env.store.vulnerabilities.countAdvisories(), 0);
  const truncated = await env.cp.adminRequest('POST', '/api/vulnerabilities/advisories', '[{"id": "DSA-1-1", "mod');
  assert.equal(truncated.body.code, 'ARCSIM_E_OSV_FEED');
});

test('SQL vulnerability assessment: a persona\'s SQL Server facts -> VA rule sub-assessments on the Arc machine and the MDC recommendation', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-sql', resourceGroup: 'rg' });
  const sql = {
    instanceName: 'MSSQLSERVER', engine: 'sqlserver' as const, version: 'SQL Server 2022', discoveredBy: 'persona' as const,
    securityFacts: { xpCmdshellEnabled: true, saLoginEnabled: false, saLoginNamedSa: true, authenticationMode: 'Windows' as const, databasesWithoutTde: ['SalesDB'] },
  };
  const agent = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'),
    facts: async () => ({ machine: { ...TEST_FACTS, hostname: 'sql01', machineFqdn: 'sql01', osType: 'windows', osName: 'windows' }, sqlInstances: [sql] }),
  });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  const m = (await env.store.machines.getMachine(agent.agentId!))!;
  await env.cp.inventory.idle();

  const rec = (await env.cp.adminRequest('GET', '/api/recommendations')).body.value.find((r: { assessmentKey: string }) => r.assessmentKey === SQL_KEY);
  assert.equal(rec.displayName, 'SQL servers on machines should have vulnerability findings resolved');
  assert.equal(rec.status, 'Unhealthy');
  assert.deepEqual(rec.details.failedRules, ['MSSQLSERVER: VA1059', 'MSSQLSERVER: VA1219']);

  const base = `/subscriptions/sub-sql/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/${m.name}/providers/Microsoft.Security/assessments`;
  const subs = await env.cp.adminRequest('GET', `${base}/${SQL_KEY}/subAssessments?api-version=2019-01-01-preview`);
  assert.equal(subs.status, 200);
  const byRule = new Map(subs.body.value.map((s: any) => [s.properties.id, s]));
  // Every rule whose fact was declared, and only those (VA1046/1047/1022/1023/1067/1279: not declared).
  assert.deepEqual([...byRule.keys()].sort(), ['VA1053', 'VA1058', 'VA1059', 'VA1072', 'VA1219']);
  const xp: any = byRule.get('VA1059');
  assert.equal(xp.type, 'Microsoft.Security/assessments/subAssessments');
  assert.equal(xp.id, `${m.resourceId}/providers/Microsoft.Security/assessments/${SQL_KEY}/subAssessments/MSSQLSERVER_VA1059`);
  assert.deepEqual([xp.properties.displayName, xp.properties.status.code, xp.properties.status.severity], ['xp_cmdshell should be disabled', 'Unhealthy', 'High']);
  assert.equal(xp.properties.additionalData.assessedResourceType, 'SqlServerVulnerability');
  assert.deepEqual([xp.properties.resourceDetails.source, xp.properties.resourceDetails.serverName], ['OnPremiseSql', 'MSSQLSERVER']);
  assert.equal((byRule.get('VA1053') as any).properties.status.code, 'Healthy', 'sa still named sa but disabled: renamed OR disabled holds');

  const list = await env.cp.adminRequest('GET', `${base}?api-version=2020-01-01`);
  assert.ok(list.body.value.some((a: any) => a.name === SQL_KEY && a.properties.status.code === 'Unhealthy'), 'the assessment shows on the Arc machine');
  const wrong = await env.cp.adminRequest('GET', `${base}/${SQL_KEY}/subAssessments?api-version=2020-01-01`);
  assert.equal(wrong.body.code, 'ARCSIM_E_VALIDATION');
});
