import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import type { MachineFacts, SqlInstanceFacts } from '../../protocol/index.ts';
import { cleanup, enableExtensions, keyedFetch, startControlPlane, TEST_FACTS } from '../helpers.ts';

/** One SQL audit event and one endpoint event: each needs its own sensor. */
const mixed = {
  id: randomUUID(), slug: 'sql-and-endpoint', name: 'SQL login failure seen by both sensors', description: 'test fixture',
  techniques: ['T1110'], platforms: ['sql'], expect: { alerts: [] },
  detonate: [{
    name: 'one of each', repeat: 3, every: '1s',
    events: [
      { Table: 'SqlEvents', ActionType: 'LoginFailed', InstanceName: 'MSSQLSERVER', ServerPrincipalName: 'sa', ClientIP: '203.0.113.9', Succeeded: false },
      { Table: 'DeviceNetworkEvents', ActionType: 'InboundConnectionAccepted', LocalPort: 1433, RemoteIP: '203.0.113.9', Protocol: 'Tcp' },
    ],
  }],
};

const SQL: SqlInstanceFacts[] = [{ instanceName: 'MSSQLSERVER', engine: 'sqlserver', version: 'SQL Server 2022', edition: 'Developer', tcpStaticPorts: '1433', discoveredBy: 'process' }];
const AWS_HOST: MachineFacts = {
  ...TEST_FACTS, hostname: 'ec2-sql-01',
  detectedProperties: { ...TEST_FACTS.detectedProperties, cloudprovider: 'AWS', mssqldiscovered: 'true', manufacturer: 'Amazon EC2' },
  cloudMetadata: { provider: 'AWS', details: { instanceId: 'i-0abc1234def567890', accountId: '123456789012', region: 'us-east-1' } },
};

test('extensions gate sensors: without MDE or a SQL extension nothing is sent and the events are counted as not collected', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const admin = (await env.cp.ensureAdminKey({ reset: true }))!;
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const stateDir = join(env.dir, 'agent');
  const facts = async () => ({ machine: AWS_HOST, sqlInstances: SQL });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir, facts, backoffMinMs: 20 });
  t.after(() => agent.stop());
  const r = agent.waitRegistered();
  await agent.start();
  assert.deepEqual((await r).extensions, []);
  const play = async () => {
    const detonationId = randomUUID();
    const res = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: mixed, detonationId });
    assert.ok(res.ok, res.message);
    return { res, stored: await env.store.events.listEvents({ detonationId }) };
  };

  const none = await play();
  assert.equal(none.res.events, 0);
  assert.deepEqual(none.res.notCollected, { SqlEvents: 3, DeviceNetworkEvents: 3 });
  assert.equal(none.stored.length, 0);

  const put = (ext: string, body: unknown, key: string | null = admin, machine = 'ec2-sql-01') =>
    fetch(`${env.url}/api/machines/${machine}/extensions/${ext}`, {
      method: 'PUT', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body),
    });
  assert.equal((await put('MDE.Linux', { enabled: true }, null)).status, 401);
  const bad = await put('MDE.Solaris', { enabled: true });
  assert.deepEqual([bad.status, (await bad.json()).path], [400, 'params.ext']);
  assert.equal((await put('MDE.Linux', { enabled: true }, admin, 'no-such-machine')).status, 404);
  assert.equal((await put('MDE.Linux', { on: true })).status, 400);

  const ok = await put('MDE.Linux', { enabled: true });
  assert.equal(ok.status, 200);
  const body = await ok.json();
  assert.equal(body.delivered, true);
  assert.deepEqual(body.machine.properties.extensions, [{ name: 'MDE.Linux', type: 'MDE.Linux', publisher: 'Microsoft.Azure.AzureDefenderForServers', status: 'Succeeded' }]);
  assert.deepEqual(agent.installedExtensions().map((e) => e.name), ['MDE.Linux']);

  const mdeOnly = await play();
  assert.equal(mdeOnly.res.events, 3);
  assert.deepEqual(mdeOnly.res.notCollected, { SqlEvents: 3 });
  assert.deepEqual([...new Set(mdeOnly.stored.map((e) => e.Table))], ['DeviceNetworkEvents']);

  await put('AdvancedThreatProtection.Windows', { enabled: true });
  const both = await play();
  assert.equal(both.res.events, 6);
  assert.deepEqual(both.res.notCollected, {});

  // Not-collected counts are kept on the machine; Defender for SQL now protects its SQL instance.
  const machine = await (await keyedFetch(admin)(`${env.url}/api/machines/ec2-sql-01`)).json();
  assert.deepEqual(machine.arcsim.notCollected, { SqlEvents: 6, DeviceNetworkEvents: 3 });
  const sql = (await (await keyedFetch(admin)(`${env.url}/api/sql-instances`)).json()).value;
  assert.equal(sql.length, 1);
  assert.equal(sql[0].type, 'Microsoft.AzureArcData/sqlServerInstances');
  assert.equal(sql[0].id, '/subscriptions/s/resourceGroups/rg/providers/Microsoft.AzureArcData/sqlServerInstances/ec2-sql-01_MSSQLSERVER');
  assert.deepEqual(
    [sql[0].properties.containerResourceId, sql[0].properties.instanceName, sql[0].properties.version, sql[0].properties.edition,
      sql[0].properties.tcpStaticPorts, sql[0].properties.hostType, sql[0].properties.status, sql[0].properties.azureDefenderStatus],
    [machine.id, 'MSSQLSERVER', 'SQL Server 2022', 'Developer', '1433', 'AWS Virtual Machine', 'Connected', 'Protected'],
  );
  assert.equal(machine.properties.mssqlDiscovered, 'true');

  // Changed while the agent is away: the new state arrives with `registered` on reconnect.
  await agent.stop();
  const off = await env.cp.setExtension('ec2-sql-01', 'MDE.Linux', false);
  assert.equal(off.delivered, false);
  const again = new Agent({ controlPlane: env.url, stateDir, facts });
  t.after(() => again.stop());
  const r2 = again.waitRegistered();
  await again.start();
  assert.deepEqual((await r2).extensions.map((e) => e.name), ['AdvancedThreatProtection.Windows']);
  assert.deepEqual(again.installedExtensions().map((e) => e.name), ['AdvancedThreatProtection.Windows']);
});

test('test helper: enableExtensions installs MDE.Linux by default', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }) });
  t.after(() => agent.stop());
  const r = agent.waitRegistered();
  await agent.start();
  await r;
  await enableExtensions(env.cp, agent.agentId!);
  assert.deepEqual(agent.installedExtensions().map((e) => e.name), ['MDE.Linux']);
  assert.deepEqual((await env.store.machines.getMachine(agent.agentId!))!.extensions.map((e) => e.name), ['MDE.Linux']);
});
