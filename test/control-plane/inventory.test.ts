import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../lib/clock.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import type { ControlPlaneConfig } from '../../control-plane/index.ts';
import type { MachineFacts } from '../../protocol/index.ts';
import { cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS, type TestControlPlane } from '../helpers.ts';

const EX = join(import.meta.dirname, '..', '..', 'examples', 'cspm');
const text = (f: string) => readFileSync(join(EX, f), 'utf8');
const json = (f: string) => JSON.parse(text(f));
const personas = json('persona-facts.json') as Record<string, MachineFacts>;
const SUB = '00000000-0000-4000-8000-00000000a5c1';
const WEB = 'i-0a1b2c3d4e5f60718';
const ssh = loadLibrary().get('ssh-brute-force-failed')!;

interface Lab {
  env: TestControlPlane;
  clock: ManualClock;
  /** Fetch; admin key added for non-GET; resolves to {status, body}. */
  api(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: any }>;
  agent(name: string, facts: MachineFacts, sql?: unknown[]): Promise<RawAgent & { machineId: string }>;
}

async function lab(t: { after(fn: () => unknown): void }, config: ControlPlaneConfig = {}): Promise<Lab> {
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const env = await startControlPlane({ clock, config: { inventory: { schedulePulls: false }, ...config } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const key = (await env.cp.ensureAdminKey({ reset: true }))!;
  const token = await env.cp.createToken({ subscription: SUB, resourceGroup: 'arcsim-lab' });
  const api: Lab['api'] = async (method, path, body, raw) => {
    const res = await fetch(`${env.url}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const t = await res.text();
    return { status: res.status, body: t ? JSON.parse(t) : undefined };
  };
  return {
    env, clock, api,
    async agent(name, facts, sql = []) {
      const creds = await enroll(env.url, token.token, name);
      const a = await RawAgent.connect(env.url, creds);
      t.after(() => a.close());
      a.send({ v: 1, type: 'register', machine: facts, sqlInstances: sql });
      const reg = await a.next('registered');
      return Object.assign(a, { machineId: reg.machineId as string });
    },
  };
}

async function connectors(l: Lab): Promise<void> {
  assert.equal((await l.api('PUT', '/api/connectors/aws-lab', json('connector-aws-lab.json'))).status, 201);
  assert.equal((await l.api('PUT', '/api/connectors/gcp-lab', json('connector-gcp-lab.json'))).status, 201);
}

/** Waits for asynchronous processing (a command result being applied), not for wall-clock windows. */
async function until<T>(fn: () => Promise<T | undefined | false>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('describe-instances + an agent on that instance: one asset, two sources; its alert appears once listing both ids and both detection paths', async (t) => {
  const l = await lab(t);
  await connectors(l);
  const imp = await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, text('aws-describe-instances.json'));
  assert.equal(imp.status, 201, JSON.stringify(imp.body));
  assert.deepEqual(imp.body.snapshots, [{ kind: 'aws-ec2-instances', resources: 3, added: 3, changed: 0, deleted: 0 }]);
  const a = await l.agent('ip-10-0-1-23', personas['ec2-persona']!);

  const assets = (await l.api('GET', '/api/assets')).body.value;
  const asset = assets.find((x: any) => x.key === `aws/123456789012/${WEB}`);
  assert.equal(assets.length, 3);
  assert.equal(asset.confidence, 'strong');
  assert.deepEqual(asset.sources.map((s: any) => s.kind), ['arc', 'cspm']);
  const ec2Id = asset.sources[1].resourceId;
  assert.equal(ec2Id, `/subscriptions/${SUB}/resourcegroups/arcsim-lab/providers/microsoft.security/securityconnectors/aws-lab/securityentitydata/aws-ec2-instance-${WEB}-us-east-1`);
  assert.deepEqual(asset.clouds, ['AWS']);
  assert.equal(asset.arcStatus, 'Connected');

  // The agent detects a brute force ...
  const device = { id: a.agentId, name: 'ip-10-0-1-23' };
  const events = planEvents(ssh, { detonationId: 'd1', device, startTime: Date.UTC(2026, 2, 1), seed: 1 }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 1, events });
  await a.next('ack');
  // ... and the connector's agentless path reports the same detection about the instance.
  const f = await l.api('POST', '/api/connectors/aws-lab/findings', {
    findings: [{ resource: WEB, alertType: 'VM_SshBruteForceFailed', time: '2026-03-01T00:01:00Z', fields: { RemoteIP: '203.0.113.45' } }],
  });
  assert.equal(f.status, 201, JSON.stringify(f.body));
  assert.equal(f.body.value[0].created, false, 'folded into the agent alert');

  const alerts = (await l.api('GET', '/api/alerts')).body.value;
  assert.equal(alerts.length, 1);
  const p = alerts[0].properties;
  assert.deepEqual(p.resourceIdentifiers.map((r: any) => r.azureResourceId), [a.machineId, ec2Id]);
  assert.equal(p.extendedProperties.count, '2');
  assert.equal(p.extendedProperties.detectionSources, 'agent,cspm');
  assert.deepEqual(alerts[0].arcsim.detectionSources.map((d: any) => [d.kind, d.resourceId]), [['agent', a.machineId], ['cspm', ec2Id]]);
  const again = (await l.api('GET', '/api/assets')).body.value.find((x: any) => x.key === asset.key);
  assert.equal(again.openAlerts.length, 1);
  assert.equal(again.openAlerts[0].detectionSources.length, 2);
  // A finding about an instance the connector does not know is refused.
  const bad = await l.api('POST', '/api/connectors/aws-lab/findings', { findings: [{ resource: 'i-0fffffffffffffff0', alertType: 'VM_SshBruteForceFailed', time: '2026-03-01T00:01:00Z' }] });
  assert.equal(bad.body.code, 'ARCSIM_E_FINDING_RESOURCE');
});

test('malformed snapshots are refused with typed errors and leave the inventory unchanged', async (t) => {
  const l = await lab(t);
  await connectors(l);
  await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, text('aws-describe-instances.json'));
  const state = async () => JSON.stringify([(await l.api('GET', '/api/connectors/aws-lab/resources?includeDeleted=true')).body, (await l.api('GET', '/api/connectors/aws-lab')).body.snapshots]);
  const before = await state();
  const good = text('aws-describe-instances.json');
  const wrongShape = JSON.parse(good);
  wrongShape.Reservations[0].Instances[0].State = { Name: 'sleeping' };
  const cases: Array<[string, string, number, string]> = [
    ['truncated JSON', good.slice(0, good.length / 2), 400, 'ARCSIM_E_SNAPSHOT_JSON'],
    ['wrong shape', JSON.stringify(wrongShape), 422, 'ARCSIM_E_SNAPSHOT_SCHEMA'],
    ['not a cloud output', JSON.stringify({ value: [{ type: 'Microsoft.Compute/virtualMachines' }] }), 422, 'ARCSIM_E_SNAPSHOT_FORMAT'],
    ['GCP output to an AWS connector', text('gcp-instances.json'), 422, 'ARCSIM_E_SNAPSHOT_PROVIDER'],
    ['unknown provider', JSON.stringify({ snapshots: [{ provider: 'OCI', document: [] }] }), 422, 'ARCSIM_E_SNAPSHOT_PROVIDER'],
    ['another account', good.replaceAll('123456789012', '999999999999'), 422, 'ARCSIM_E_SNAPSHOT_ACCOUNT'],
    // One bad document refuses the whole batch, the good one included.
    ['batch with one bad document', JSON.stringify({ snapshots: [{ document: { Reservations: [] } }, { document: { SecurityGroups: [{ GroupId: 'nope' }] } }] }), 422, 'ARCSIM_E_SNAPSHOT_SCHEMA'],
  ];
  for (const [name, body, status, code] of cases) {
    const r = await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, body);
    assert.equal(r.status, status, name);
    assert.equal(r.body.code, code, name);
  }
  const schemaErr = await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, JSON.stringify(wrongShape));
  assert.equal(schemaErr.body.path, 'body.Reservations.0.Instances.0.State.Name');
  assert.equal(await state(), before, 'nothing changed');
  const oci = await l.api('PUT', '/api/connectors/oci-lab', { provider: 'OCI', subscription: SUB, resourceGroup: 'rg' });
  assert.deepEqual([oci.status, oci.body.code], [400, 'ARCSIM_E_CONNECTOR_PROVIDER']);
  assert.equal((await l.api('POST', '/api/connectors/nope/snapshots', undefined, good)).body.code, 'ARCSIM_E_CONNECTOR_UNKNOWN');
});

test('a resource missing from a later snapshot is marked deleted (with its time), not dropped; the agent on it is flagged', async (t) => {
  const l = await lab(t);
  await connectors(l);
  await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, text('aws-describe-instances.json'));
  await l.agent('ip-10-0-1-23', personas['ec2-persona']!);
  const later = json('aws-describe-instances.json');
  later.Reservations = later.Reservations.slice(1);
  l.clock.advance(3_600_000);
  const r = await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, JSON.stringify(later));
  assert.deepEqual(r.body.snapshots[0], { kind: 'aws-ec2-instances', resources: 2, added: 0, changed: 0, deleted: 1 });
  assert.equal((await l.api('GET', '/api/connectors/aws-lab/resources')).body.value.length, 2);
  const all = (await l.api('GET', '/api/connectors/aws-lab/resources?includeDeleted=true')).body.value;
  assert.equal(all.find((x: any) => x.nativeId === WEB).deletedAt, new Date(Date.UTC(2026, 2, 1) + 3_600_000).toISOString());
  const asset = (await l.api('GET', '/api/assets')).body.value.find((x: any) => x.key.endsWith(WEB));
  assert.equal(asset.sources.length, 2);
  assert.deepEqual(asset.conflicts.map((c: any) => c.kind), ['instance-deleted']);
});

test('Arc status follows heartbeats on the injected clock: Disconnected, Expired, back to Connected', async (t) => {
  const l = await lab(t, { inventory: { missedHeartbeats: 3, expiredAfter: '45d', schedulePulls: false } });
  const a = await l.agent('lab-host-01', TEST_FACTS);
  const status = async () => (await l.api('GET', '/api/machines/lab-host-01')).body.properties;
  const t0 = l.clock.now();
  l.clock.advance(90_000); // 3 × 30 s heartbeats missed exactly: not yet
  assert.deepEqual(await l.env.cp.inventory.sweep(), []);
  l.clock.advance(1_000);
  assert.deepEqual((await l.env.cp.inventory.sweep()).map((c) => c.to), ['Disconnected']);
  assert.deepEqual(await status().then((p) => [p.status, p.lastStatusChange]), ['Disconnected', new Date(t0 + 91_000).toISOString()]);
  assert.deepEqual(await l.env.cp.inventory.sweep(), [], 'a repeated sweep changes nothing');
  l.clock.advance(45 * 86_400_000);
  assert.deepEqual((await l.env.cp.inventory.sweep()).map((c) => c.to), ['Expired']);
  assert.equal((await status()).status, 'Expired');
  l.clock.advance(5_000);
  a.send({ v: 1, type: 'heartbeat', time: new Date(l.clock.now()).toISOString() });
  a.send({ v: 1, type: 'events', seq: 1, events: [] }); // frames are handled in order: its ack follows the heartbeat
  await a.next('ack');
  const p = await status();
  assert.deepEqual([p.status, p.lastStatusChange], ['Connected', new Date(l.clock.now()).toISOString()]);
});

test('Defender for Servers provisions MDE on connected machines (and later ones); disabling removes it; billing follows', async (t) => {
  const l = await lab(t);
  const linux = await l.agent('lab-host-01', TEST_FACTS);
  assert.equal((await l.api('PUT', '/api/plans', { scope: 'subscription', id: SUB, plan: 'VirtualMachines', enabled: true, subPlan: 'P1' })).status, 200);
  const cmd = await linux.next('command');
  assert.deepEqual(cmd.command, { action: 'set-extension', name: 'MDE.Linux', enabled: true });
  const ext = async (name: string) => (await l.api('GET', `/api/machines/${name}`)).body.properties.extensions;
  assert.deepEqual(await ext('lab-host-01'), [{ name: 'MDE.Linux', type: 'MDE.Linux', publisher: 'Microsoft.Azure.AzureDefenderForServers', status: 'Creating' }]);
  linux.send({ v: 1, type: 'command-result', id: cmd.id, ok: true });
  await until(async () => (await ext('lab-host-01'))[0]?.status === 'Succeeded', 'MDE.Linux Succeeded');

  // A Windows machine with SQL Server connecting later gets MDE.Windows; Defender for SQL adds the SQL extensions.
  const win = await l.agent('sql-01', { ...TEST_FACTS, hostname: 'sql-01', osType: 'windows', osName: 'windows', vmUuid: undefined }, [{ instanceName: 'MSSQLSERVER', engine: 'sqlserver', version: 'SQL Server 2022' }]);
  assert.deepEqual((await win.next('command')).command, { action: 'set-extension', name: 'MDE.Windows', enabled: true });
  await l.api('PUT', '/api/plans', { scope: 'subscription', id: SUB, plan: 'SqlServerVirtualMachines', enabled: true });
  const sqlCmds = [await win.next('command'), await win.next('command')].map((c) => c.command.name).sort();
  assert.deepEqual(sqlCmds, ['AdvancedThreatProtection.Windows', 'WindowsAgent.SqlServer']);
  assert.deepEqual((await ext('sql-01')).map((e: any) => [e.name, e.publisher]).sort(), [
    ['AdvancedThreatProtection.Windows', 'Microsoft.Azure.AzureDefenderForSQL'], ['MDE.Windows', 'Microsoft.Azure.AzureDefenderForServers'], ['WindowsAgent.SqlServer', 'Microsoft.AzureData'],
  ]);
  assert.equal(linux.frames.filter((f) => f.type === 'command').length, 0, 'no SQL extension for a machine without SQL Server');

  let bill = (await l.api('GET', '/api/billing')).body;
  assert.deepEqual(bill.summary, { VirtualMachines: 2, SqlServerVirtualMachines: 1 });
  // Disconnected machines are not billed.
  l.clock.advance(10 * 60_000);
  await l.env.cp.inventory.sweep();
  bill = (await l.api('GET', '/api/billing')).body;
  assert.deepEqual(bill.summary, {});
  assert.ok(bill.value.every((x: any) => !x.billed && /Disconnected: not billed/.test(x.reason)));

  // Disabling: the agent is told to remove MDE, and once it confirms the extension is gone.
  linux.send({ v: 1, type: 'heartbeat', time: new Date(l.clock.now()).toISOString() });
  linux.send({ v: 1, type: 'events', seq: 1, events: [] });
  await linux.next('ack');
  await l.api('PUT', '/api/plans', { scope: 'subscription', id: SUB, plan: 'VirtualMachines', enabled: false });
  const off = await linux.next('command');
  assert.deepEqual(off.command, { action: 'set-extension', name: 'MDE.Linux', enabled: false });
  linux.send({ v: 1, type: 'command-result', id: off.id, ok: true });
  await until(async () => (await ext('lab-host-01')).length === 0, 'MDE.Linux removed');
  const mde = (await l.api('GET', '/api/recommendations')).body.value.filter((r: any) => r.displayName === 'Machines should have Defender for Endpoint installed');
  assert.ok(mde.some((r: any) => r.resourceId === linux.machineId), 'the MDE recommendation is back for the machine');
});

test('billing flags a machine billed twice because it is seen twice (unmerged duplicate EC2 object)', async (t) => {
  const l = await lab(t);
  await connectors(l);
  await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, text('aws-describe-instances.json'));
  await l.api('PUT', '/api/plans', { scope: 'connector', id: 'aws-lab', plan: 'VirtualMachines', enabled: true });
  await l.api('PUT', '/api/plans', { scope: 'subscription', id: SUB, plan: 'VirtualMachines', enabled: true });
  // An agent on the web instance that cannot read IMDS and whose hostname was changed: not merged.
  await l.agent('webserver', { ...TEST_FACTS, hostname: 'webserver', cloudMetadata: { provider: 'N/A' }, networkInterfaces: [{ name: 'ens5', ipAddresses: ['10.0.1.23'] }] });
  const bill = (await l.api('GET', '/api/billing')).body;
  assert.equal(bill.duplicates.length, 1);
  assert.match(bill.duplicates[0].reason, /billed twice.*10\.0\.1\.23/);
  // Fix: MDC's tags on the Arc machine merge it; billed once, through the Arc machine.
  assert.equal((await l.api('PUT', '/api/machines/webserver/tags', { AccountId: '123456789012', InstanceId: WEB, Cloud: 'AWS', MDFCSecurityConnector: 'aws-lab' })).status, 200);
  const fixed = (await l.api('GET', '/api/billing')).body;
  assert.deepEqual(fixed.duplicates, []);
  const web = fixed.value.filter((x: any) => x.assetKey === `aws/123456789012/${WEB}`);
  assert.deepEqual(web.map((x: any) => [x.sourceKind, x.billed]), [['arc', true], ['cspm', false]]);
  assert.equal(fixed.summary.VirtualMachines, 2, 'web via Arc + the SQL instance agentlessly; the stopped one is not billed');
});

test('recommendations appear from realistic snapshots, do not repeat, and disappear when the snapshot is fixed; secure score moves', async (t) => {
  const l = await lab(t);
  await connectors(l);
  const batch = (...files: string[]) => JSON.stringify({ snapshots: files.map((f) => ({ document: json(f), source: f })) });
  assert.equal((await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, batch('aws-describe-instances.json', 'aws-describe-security-groups.json'))).status, 201);
  assert.equal((await l.api('POST', '/api/connectors/gcp-lab/snapshots', undefined, batch('gcp-instances.json', 'gcp-firewall-rules.json'))).status, 201);
  const recs = async () => (await l.api('GET', '/api/recommendations')).body.value as any[];
  const names = (rs: any[]) => rs.map((r) => `${r.displayName} :: ${r.details.name}`).sort();
  const first = await recs();
  assert.deepEqual(names(first), [
    'EC2 instances should be connected to Azure Arc :: lab-ec2-sql',
    'EC2 instances should be connected to Azure Arc :: lab-ec2-web',
    'GCP VM instances should be connected to Azure Arc :: gcp-db-01',
    'GCP VM instances should be connected to Azure Arc :: gcp-web-01',
    'Management ports should be closed on internet-facing firewall rules :: default-allow-ssh',
    'Management ports should be closed on internet-facing security groups :: lab-sql-sg',
    'Management ports should be closed on internet-facing security groups :: lab-web-sg',
    'SQL servers should not be reachable from the internet (firewall rules) :: allow-postgres',
    'SQL servers should not be reachable from the internet (security groups) :: lab-sql-sg',
  ]);
  const ec2 = first.find((r) => r.details.name === 'lab-ec2-web');
  assert.equal(ec2.assessmentKey, '231dee23-84db-44d2-bd9d-c32fbcfb42a3');
  assert.equal(ec2.keySource, 'published');
  assert.ok(ec2.remediation.length > 20);
  assert.deepEqual(first.find((r) => r.details.name === 'lab-sql-sg' && /SQL/.test(r.displayName)).details.openPorts, [1433]);
  assert.deepEqual(first.find((r) => r.details.name === 'allow-postgres').details.instances, ['gcp-db-01']);
  const score1 = (await l.api('GET', '/api/secure-score')).body.value[0];

  // The same scan again, an hour later: nothing changes, first-seen times are kept.
  l.clock.advance(3_600_000);
  await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, batch('aws-describe-instances.json', 'aws-describe-security-groups.json'));
  assert.deepEqual(await recs(), first);

  // The agents arrive and the security groups / firewall rules are fixed.
  await l.agent('ip-10-0-1-23', personas['ec2-persona']!);
  await l.agent('gcp-web-01', personas['gcp-persona']!);
  await l.api('POST', '/api/connectors/aws-lab/snapshots', undefined, batch('aws-describe-security-groups.fixed.json'));
  await l.api('POST', '/api/connectors/gcp-lab/snapshots', undefined, batch('gcp-firewall-rules.fixed.json'));
  const after = (await recs()).filter((r) => !/Defender for Endpoint/.test(r.displayName));
  assert.deepEqual(names(after), ['EC2 instances should be connected to Azure Arc :: lab-ec2-sql', 'GCP VM instances should be connected to Azure Arc :: gcp-db-01']);
  const healthy = (await l.api('GET', '/api/recommendations?status=Healthy')).body.value;
  assert.ok(healthy.some((r: any) => r.details.name === 'lab-web-sg' && r.statusChanged === new Date(l.clock.now()).toISOString()));
  const score2 = (await l.api('GET', '/api/secure-score')).body.value[0];
  assert.equal(score2.subscription, SUB);
  assert.ok(score2.score > score1.score, `${score2.score} > ${score1.score}`);
});

test('scheduled pull: a file source inside the import directory imports like a snapshot; bad cron refused', async (t) => {
  const importDir = join(tmpdir(), `arcsim-import-${process.pid}-${Date.now()}`);
  mkdirSync(importDir, { recursive: true });
  t.after(() => rmSync(importDir, { recursive: true, force: true }));
  const l = await lab(t, { inventory: { schedulePulls: false, importDir } });
  writeFileSync(join(importDir, 'ec2.json'), text('aws-describe-instances.json'));
  writeFileSync(join(importDir, 'sgs.json'), text('aws-describe-security-groups.json'));
  const def = { ...json('connector-aws-lab.json'), pull: { schedule: '*/15 * * * *', sources: [{ file: 'ec2.json' }, { file: join(importDir, 'sgs.json') }] } };
  assert.equal((await l.api('PUT', '/api/connectors/aws-lab', def)).status, 201);
  const r = await l.api('POST', '/api/connectors/aws-lab/pull');
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body.snapshots.map((s: any) => [s.kind, s.resources]), [['aws-ec2-instances', 3], ['aws-security-groups', 3]]);
  assert.equal((await l.api('GET', '/api/connectors/aws-lab')).body.snapshots[0].source, 'pull');
  writeFileSync(join(importDir, 'sgs.json'), '{"SecurityGroups": [');
  const broken = await l.api('POST', '/api/connectors/aws-lab/pull');
  assert.equal(broken.body.code, 'ARCSIM_E_SNAPSHOT_JSON');
  const cron = await l.api('PUT', '/api/connectors/aws-lab', { ...def, pull: { ...def.pull, schedule: 'every tuesday' } });
  assert.deepEqual([cron.status, cron.body.code], [400, 'ARCSIM_E_CONNECTOR_CONFIG']);
  const missing = await l.api('PUT', '/api/connectors/aws-lab', { ...def, pull: { schedule: '0 * * * *', sources: [{ file: 'none.json' }] } });
  assert.equal(missing.status, 200);
  assert.equal((await l.api('POST', '/api/connectors/aws-lab/pull')).body.code, 'ARCSIM_E_PULL_FAILED');
});
