import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadLibrary } from '../../scenarios/index.ts';
import { cleanup, tempDir } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

/** Runs the CLI in a child process without blocking this one. */
function cli(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill(), timeoutMs);
  return new Promise((resolve) => child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); }));
}

test('arcsim lab --exit (npm start): four agents (one a Kubernetes node), CSPM merge, plans, every multi-cloud cell passes, EC2 persona one asset with two sources and its alerts once, the EKS cluster one cluster with two sources and its K8S_* alerts', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const started = Date.now();
  const { code, stdout: out, stderr } = await cli(['lab', '--exit', '--port', '0', '--data-dir', dir], 90_000);
  assert.equal(code, 0, out + stderr);
  assert.ok(Date.now() - started < 60_000, 'the suite finishes in under a minute');

  // Four agents on this machine: the real host and the three personas.
  const agents = out.split('Agents on this machine')[1]!.split('CSPM connectors')[0]!;
  assert.match(agents, /^this-host\s+\S+\s+\(real host\)/m);
  assert.match(agents, /^ec2-sql-server\s+EC2AMAZ-SQL01\s+ec2-sql-server\s+Windows Server 2022 Datacenter\s+AWS\s+i-0b2c3d4e5f6071829\s+MSSQLSERVER \(sqlserver\)/m);
  assert.match(agents, /^gcp-web\s+gcp-web-01\s+gcp-web\s+Debian GNU\/Linux 12\s+GCP\s+4567890123456789012\s+-/m);
  assert.match(agents, /^eks-node\s+ip-10-0-3-17\s+eks-node\s+Amazon Linux 2023\s+AWS\s+i-0d4e5f60718293a4b\s+-/m);
  // Defender for Containers deploys its sensor to the Kubernetes node only.
  assert.match(out, /^ip-10-0-3-17\s+linux\s+-\s+MDE\.Linux Succeeded, microsoft\.azuredefender\.kubernetes Succeeded$/m);
  assert.match(out, /^gcp-web-01\s+linux\s+-\s+MDE\.Linux Succeeded$/m);
  // Extensions come from the plans.
  assert.match(out, /^EC2AMAZ-SQL01\s+windows\s+MSSQLSERVER \(sqlserver\)\s+MDE\.Windows Succeeded, WindowsAgent\.SqlServer Succeeded, AdvancedThreatProtection\.Windows Succeeded$/m);

  // The matrix: four host columns (the cluster's named after it), every cell PASS.
  const matrix = out.split(/^Test run /m)[1]!.split(/^Inventory /m)[0]!;
  const header = matrix.split('\n').find((l) => l.startsWith('row '))!;
  assert.match(header, /\(onprem\)\s+EC2AMAZ-SQL01 \(aws\)\s+gcp-web-01 \(gcp\)\s+eks-lab\/ip-10-0-3-17 \(aws\)/);
  const rows = matrix.split('\n').filter((l) => /^(ssh|powershell|fileless|sql|ec2|asset|incident|kubernetes)/.test(l));
  assert.equal(rows.length, 13);
  for (const r of rows) assert.doesNotMatch(r, /FAIL|NOT RUN|NOT CHECKED/, r);
  assert.match(matrix, /^asset-merge\s+—\s+PASS\s+PASS\s+—$/m);
  assert.match(matrix, /^ec2-faults\s+—\s+PASS\s+—\s+—$/m);
  assert.match(matrix, /^kubernetes-attack\s+—\s+—\s+—\s+PASS$/m);
  assert.match(matrix, /^kubernetes-attack-benign \(benign\)\s+—\s+—\s+—\s+PASS$/m);
  assert.match(matrix, /^PASS: 28\/28 cells passed, 0 failed, 0 not run, 0 not checked/m);

  // The EKS cluster: the Arc-enabled cluster its node forms and the AWS connector's EKS cluster are one
  // cluster (same name, the node's account and region), and the K8S_* alerts are on it; the GKE cluster
  // no agent runs in is the connector's alone.
  const clusters = out.split('Kubernetes clusters (GET /api/clusters)')[1]!.split('Lab done')[0]!;
  assert.match(clusters, /^eks-lab\s+strong\s+arc:connectedClusters \+ cspm:aws-eks-cluster\s+1\s+Connected\s+eks\s+K8S_ClusterAdminBinding, K8S_ExposedDashboard, K8S_MaliciousContainerImage, K8S_PrivilegedContainer, K8S_SensitiveMount$/m);
  assert.match(clusters, /^gke-lab\s+single\s+cspm:gcp-gke-cluster\s+-\s+-\s+-\s+-$/m);

  // The merged inventory: the EC2 persona is one asset with two sources ...
  assert.match(out, /^lab-ec2-sql\s+strong\s+AWS\s+arc:EC2AMAZ-SQL01 \+ cspm:lab-ec2-sql\s+Connected/m);
  assert.equal(out.match(/EC2AMAZ-SQL01 \+ cspm/g)?.length, 1);
  // ... and its alerts are raised once, each listing both resource ids.
  const ec2 = out.split('Alerts on lab-ec2-sql: one asset, 2 sources, strong merge')[1]!.split('Alerts on gcp-web-01')[0]!;
  assert.match(ec2, /\[1\] arc {3}\/subscriptions\/.*\/providers\/Microsoft\.HybridCompute\/machines\/EC2AMAZ-SQL01\n/);
  assert.match(ec2, /\[2\] cspm {2}\/subscriptions\/.*\/securityconnectors\/aws-lab\/securityentitydata\/aws-ec2-instance-i-0b2c3d4e5f6071829-us-east-1\n/);
  const alertLines = ec2.split('\n').filter((l) => /^(VM_|MDE_|SQL\.)/.test(l));
  assert.deepEqual(alertLines.map((l) => l.split(/\s+/)[0]).sort(), [
    'MDE_SuspiciousPowerShellCommandLine', 'SQL.VM_PotentialSqlInjection', 'VM_FilelessAttackTechnique.Windows',
    'VM_SshBruteForceFailed', 'VM_SshBruteForceFailed', 'VM_SshKeyAddition',
  ]);
  for (const l of alertLines) assert.match(l, /\[1\] \[2\]$/, l);
  // The brute force played twice by one row is one alert of count 2; the faulted run (its own attacker) is its own alert of count 1.
  assert.match(ec2, /^VM_SshBruteForceFailed\s+2\s+MDC Active\s+ssh-brute-force\s/m);
  assert.match(ec2, /^VM_SshBruteForceFailed\s+1\s+MDC Active\s+ec2-faults\s/m);
  // blog-2022: dismissed in M365D reached MDE, not MDC.
  assert.match(ec2, /^MDE_SuspiciousPowerShellCommandLine\s+1\s+M365D Dismissed, MDC Active, MDE Dismissed\s/m);
  assert.match(out, /every cell passed/);
});

test('arcsim lab --library --exit: real host, every library scenario, each expected alert exactly once, exit 0', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const started = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'lab', '--library', '--exit', '--port', '0', '--data-dir', dir, '--rounds', '2'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(Date.now() - started < 30_000, 'the lab stays quick');
  const out = r.stdout;
  const library = [...loadLibrary().values()];
  const expected = library.flatMap((s) => s.expect.alerts.map((a) => ({ slug: s.slug, alertType: a.alertType })));
  assert.match(out, new RegExp(`PASS: ${expected.length}/${expected.length} expected alerts raised exactly once`));
  assert.match(out, /benign twins raised 0/);
  // Every scenario and its twin played in both rounds.
  for (const s of library) {
    for (const round of [1, 2]) assert.match(out, new RegExp(`round ${round}/2  attack  ${s.slug} `));
  }
  const alertTable = out.split('Alerts (')[1]!.split('Expectations')[0]!;
  for (const { alertType } of expected) assert.match(alertTable, new RegExp(`^${alertType.replace(/\./g, '\\.')} `, 'm'));
  const checks = out.split('Expectations')[1]!.split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
  assert.equal(checks.length, expected.length);
  assert.ok(checks.every((l) => l.startsWith('PASS')));
  // Two rounds fold into one alert per expectation: "1 (1)", with a count of at least 2.
  for (const l of checks) assert.match(l, /\s1 \(1\)\s+([2-9]|\d\d)$/);
});

test('CLI usage errors are clear and exit 2', () => {
  const r = spawnSync(process.execPath, [BIN, 'lab', '--port', 'seventy'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /TCP port/);
  const both = spawnSync(process.execPath, [BIN, 'lab', '--library', '--suite', 'examples/onprem.yaml', '--exit', '--port', '0'], { encoding: 'utf8' });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--library and --suite are alternatives/);
  const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const cmd of ['lab', 'control-plane', 'agent', 'token', 'scenario']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
});
