import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { collectInventory, discoverSqlInstances, loadPersona, PersonaSchema } from '../../agent/index.ts';
import { cleanup, tempDir } from '../helpers.ts';
import { AWS_DOC, fakeAws, fakeGcp, silentServer, type FakeServer } from './fake-metadata.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'personas');
const noProcesses = { processes: async () => [], listeners: async () => [] };

/** A fake DMI tree under a temp root (what /sys/class/dmi/id holds on a VM). */
function dmiRoot(files: Record<string, string>): string {
  const root = tempDir('arcsim-dmi-');
  mkdirSync(join(root, 'sys', 'class', 'dmi', 'id'), { recursive: true });
  for (const [name, value] of Object.entries(files)) writeFileSync(join(root, 'sys', 'class', 'dmi', 'id', name), value + '\n');
  return root;
}

async function withServers(t: { after(fn: () => unknown): void }, ...servers: FakeServer[]): Promise<void> {
  t.after(() => Promise.all(servers.map((s) => s.close())));
}

test('AWS: DMI says Amazon EC2, IMDSv2 token then identity document fill cloudMetadata', async (t) => {
  const aws = await fakeAws();
  const gcp = await fakeGcp();
  await withServers(t, aws, gcp);
  const root = dmiRoot({ sys_vendor: 'Amazon EC2', product_name: 't3.large', board_asset_tag: 'i-0abc1234def567890', product_uuid: 'ec2e1916-9099-7caf-fd21-012345678901' });
  t.after(() => cleanup(root));
  const inv = await collectInventory({ sysRoot: root, awsImdsUrl: aws.url, gcpMetadataUrl: gcp.url, ...noProcesses });
  assert.equal(inv.machine.cloudMetadata.provider, 'AWS');
  assert.deepEqual(inv.machine.cloudMetadata.details, AWS_DOC);
  assert.equal(inv.machine.detectedProperties.cloudprovider, 'AWS');
  assert.equal(inv.machine.detectedProperties.manufacturer, 'Amazon EC2');
  assert.equal(inv.machine.vmUuid, 'EC2E1916-9099-7CAF-FD21-012345678901');
  // IMDSv2: the token PUT first, with a TTL header; the document GET carries the token.
  assert.equal(aws.requests[0]!.method, 'PUT');
  assert.ok(aws.requests[0]!.headers['x-aws-ec2-metadata-token-ttl-seconds']);
  const doc = aws.requests.find((r) => r.path === '/latest/dynamic/instance-identity/document')!;
  assert.equal(doc.headers['x-aws-ec2-metadata-token'], 'AQAEAfakeToken==');
  assert.equal(gcp.requests.length, 0, 'the other cloud is not asked');
});

test('AWS evidence from a Xen-era ec2 UUID or the Nitro asset tag alone', async (t) => {
  const aws = await fakeAws();
  await withServers(t, aws);
  for (const files of <Array<Record<string, string>>>[{ product_uuid: 'EC2AB8B6-0000-1111-2222-333344445555' }, { board_asset_tag: 'i-0abc1234def567890' }]) {
    const root = dmiRoot(files);
    t.after(() => cleanup(root));
    const inv = await collectInventory({ sysRoot: root, awsImdsUrl: aws.url, ...noProcesses });
    assert.equal(inv.machine.cloudMetadata.provider, 'AWS', JSON.stringify(files));
    assert.equal(inv.machine.cloudMetadata.details?.instanceId, AWS_DOC.instanceId);
  }
});

test('GCP: Metadata-Flavor header both ways; instance, project and zone reported', async (t) => {
  const aws = await fakeAws();
  const gcp = await fakeGcp();
  await withServers(t, aws, gcp);
  const root = dmiRoot({ sys_vendor: 'Google', product_name: 'Google Compute Engine', bios_vendor: 'Google' });
  t.after(() => cleanup(root));
  const inv = await collectInventory({ sysRoot: root, awsImdsUrl: aws.url, gcpMetadataUrl: gcp.url, ...noProcesses });
  assert.equal(inv.machine.cloudMetadata.provider, 'GCP');
  assert.deepEqual(inv.machine.cloudMetadata.details, {
    instanceId: '4567890123456789012', instanceName: 'gce-web-01', projectId: 'arcsim-lab-gcp', projectNumber: '987654321098',
    zone: 'europe-west1-b', machineType: 'e2-standard-2', image: 'debian-12-bookworm-v20260101', privateIp: '10.132.0.5',
    serviceAccounts: '987654321098-compute@developer.gserviceaccount.com',
  });
  assert.ok(gcp.requests.every((r) => r.headers['metadata-flavor'] === 'Google'));
  assert.equal(aws.requests.length, 0);
});

test('a metadata service that never answers costs one short timeout, no retries; the DMI provider stands', async (t) => {
  const hang = await silentServer();
  await withServers(t, hang);
  const root = dmiRoot({ sys_vendor: 'Amazon EC2' });
  t.after(() => cleanup(root));
  const started = Date.now();
  const inv = await collectInventory({ sysRoot: root, awsImdsUrl: hang.url, metadataTimeoutMs: 200, ...noProcesses });
  const took = Date.now() - started;
  assert.ok(took < 1500, `took ${took} ms`);
  assert.equal(inv.machine.cloudMetadata.provider, 'AWS');
  assert.equal(inv.machine.cloudMetadata.details, undefined);
  assert.equal(hang.requests.length, 1, 'asked once (the token PUT), never retried');
  assert.ok(inv.notes.some((n) => /timed out/.test(n)), inv.notes.join('; '));
});

test('on-prem: no cloud evidence, so no metadata service is asked at all', async (t) => {
  const aws = await fakeAws();
  const gcp = await fakeGcp();
  await withServers(t, aws, gcp);
  for (const files of <Array<Record<string, string>>>[{}, { sys_vendor: 'VMware, Inc.', product_name: 'VMware Virtual Platform' }, { sys_vendor: 'Microsoft Corporation', product_name: 'Virtual Machine' }]) {
    const root = dmiRoot(files);
    t.after(() => cleanup(root));
    const inv = await collectInventory({ sysRoot: root, awsImdsUrl: aws.url, gcpMetadataUrl: gcp.url, ...noProcesses });
    assert.equal(inv.machine.cloudMetadata.provider, 'N/A', JSON.stringify(files));
    assert.equal(inv.machine.detectedProperties.cloudprovider, 'N/A');
  }
  assert.equal(aws.requests.length + gcp.requests.length, 0);
  // Azure's chassis tag is what tells Azure from Hyper-V on-premises.
  const azure = dmiRoot({ sys_vendor: 'Microsoft Corporation', product_name: 'Virtual Machine', chassis_asset_tag: '7783-7084-3265-9085-8269-3286-77' });
  t.after(() => cleanup(azure));
  assert.equal((await collectInventory({ sysRoot: azure, ...noProcesses })).machine.cloudMetadata.provider, 'Azure');
});

test('the real host (a container without DMI): real values, unreadable facts absent, never a crash', async () => {
  const inv = await collectInventory({ awsImdsUrl: 'http://127.0.0.1:9', gcpMetadataUrl: 'http://127.0.0.1:9' });
  const m = inv.machine;
  assert.equal(m.hostname, hostname());
  assert.equal(m.osType, 'linux');
  assert.ok(Number(m.detectedProperties.logicalCoreCount) >= 1);
  assert.ok(Number(m.detectedProperties.totalPhysicalMemoryInGigabytes) >= 1);
  assert.match(m.detectedProperties.mssqldiscovered!, /^(true|false)$/);
  assert.ok(['N/A', 'AWS', 'GCP', 'Azure'].includes(m.cloudMetadata.provider));
  for (const v of Object.values(m.detectedProperties)) assert.notEqual(v.trim(), '', 'no empty strings stand in for unknown facts');
  if (m.vmUuid !== undefined) assert.notEqual(m.vmUuid, '');
});

test('SQL discovery: processes (workers folded), listening ports, declared instances', () => {
  const found = discoverSqlInstances({
    processes: [
      { pid: 10, parentPid: 1, name: 'sqlservr', path: '/opt/mssql/bin' },
      { pid: 11, parentPid: 10, name: 'sqlservr' },
      { pid: 20, parentPid: 1, name: 'postgres', path: '/usr/lib/postgresql/15/bin', params: '-D /var/lib/postgresql/15/main' },
      { pid: 21, parentPid: 20, name: 'postgres', params: 'checkpointer' },
      { pid: 30, parentPid: 1, name: 'nginx' },
    ],
    listeners: [{ port: 1433, pid: 10 }, { port: 5432, pid: null }, { port: 3306, pid: null }, { port: 80, pid: 30 }],
    declared: [{ instanceName: 'REPORTING', engine: 'sqlserver', version: 'SQL Server 2019', edition: 'Standard', tcpStaticPorts: '1434' }],
  });
  assert.deepEqual(found, [
    { instanceName: 'MSSQLSERVER', engine: 'sqlserver', discoveredBy: 'process', tcpStaticPorts: '1433' },
    { instanceName: 'PostgreSQL', engine: 'postgresql', discoveredBy: 'process', version: 'PostgreSQL 15', tcpStaticPorts: '5432' },
    { instanceName: 'MySQL', engine: 'mysql', discoveredBy: 'port', tcpStaticPorts: '3306' },
    { instanceName: 'REPORTING', engine: 'sqlserver', version: 'SQL Server 2019', edition: 'Standard', tcpStaticPorts: '1434', discoveredBy: 'config' },
  ]);
});

test('mssqldiscovered follows discovery; an unreadable process list only skips that source', async () => {
  const inv = await collectInventory({
    sysRoot: '/nonexistent-root', processes: async () => { throw new Error('EPERM'); },
    listeners: async () => [{ port: 1433, pid: null }],
  });
  assert.equal(inv.machine.detectedProperties.mssqldiscovered, 'true');
  assert.deepEqual(inv.sqlInstances.map((s) => [s.instanceName, s.discoveredBy]), [['MSSQLSERVER', 'port']]);
  assert.ok(inv.notes.some((n) => /processes could not be read/.test(n)));
});

test('personas: the shipped EC2 and GCP examples validate and stand in for a cloud host; no metadata is asked', async (t) => {
  const aws = await fakeAws();
  await withServers(t, aws);
  const root = dmiRoot({ sys_vendor: 'Amazon EC2' }); // even with cloud evidence, a persona cloud wins
  t.after(() => cleanup(root));
  const ec2 = loadPersona(join(EXAMPLES, 'ec2-sql-server.yaml'));
  const inv = await collectInventory({ sysRoot: root, awsImdsUrl: aws.url, persona: ec2, ...noProcesses });
  assert.equal(aws.requests.length, 0);
  assert.equal(inv.machine.persona, ec2.name);
  assert.equal(inv.machine.hostname, ec2.hostname);
  assert.equal(inv.machine.cloudMetadata.provider, 'AWS');
  assert.equal(inv.machine.cloudMetadata.details?.instanceId, (ec2.cloud as { instanceId: string }).instanceId);
  assert.equal(inv.machine.detectedProperties.manufacturer, 'Amazon EC2');
  assert.equal(inv.machine.detectedProperties.mssqldiscovered, 'true');
  assert.equal(inv.sqlInstances[0]!.discoveredBy, 'persona');
  assert.equal(inv.sqlInstances[0]!.engine, 'sqlserver');

  const gce = await collectInventory({ sysRoot: root, persona: loadPersona(join(EXAMPLES, 'gcp-web.yaml')), ...noProcesses });
  assert.equal(gce.machine.cloudMetadata.provider, 'GCP');
  assert.ok(gce.machine.cloudMetadata.details?.projectId);
  assert.equal(gce.machine.detectedProperties.model, 'Google Compute Engine');

  // Strict: a misspelt key or a malformed instance id is refused with its path.
  assert.equal(PersonaSchema.safeParse({ name: 'x', hostnme: 'typo' }).success, false);
  const bad = PersonaSchema.safeParse({ name: 'x', cloud: { provider: 'AWS', instanceId: 'vm-1', accountId: '123456789012', region: 'us-east-1' } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0]!.path, ['cloud', 'instanceId']);
});

test('arcsim agent inventory --json prints the register payload of this host without connecting', (t) => {
  // Metadata URLs on a closed loopback port: even on a cloud CI runner the test asks no real metadata service.
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, 'awsImdsUrl: http://127.0.0.1:9\ngcpMetadataUrl: http://127.0.0.1:9\n');
  const r = spawnSync(process.execPath, [BIN, 'agent', 'inventory', '--json', '--config', config], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const payload = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(payload).sort(), ['machine', 'sqlInstances']);
  assert.equal(payload.machine.hostname, hostname());
  if (!existsSync('/sys/class/dmi/id')) assert.equal(payload.machine.cloudMetadata.provider, 'N/A', 'no DMI: an on-prem container');
  assert.ok(Number(payload.machine.detectedProperties.logicalCoreCount) >= 1);
});
