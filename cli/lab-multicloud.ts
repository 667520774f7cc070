import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../control-plane/index.ts';
import type { MachineRow } from '../control-plane/store/index.ts';
import { machineOsFamily, mdeExtensionFor, sqlExtensionsFor } from '../protocol/index.ts';
import { table } from '../lib/text-table.ts';
import { LAB_RESOURCE_GROUP, LAB_SUBSCRIPTION, type LabHost } from './lab-suite.ts';

/** The repository's examples: personas, CSPM snapshots, suites. */
export const EXAMPLES_DIR = join(import.meta.dirname, '..', 'examples');
export const MULTI_CLOUD_SUITE = join(EXAMPLES_DIR, 'multi-cloud.yaml');

/**
 * The four agents of the full lab, all on this machine: the real host with its own facts
 * (on-prem), the EC2 persona (Windows with a SQL Server instance: instance lab-ec2-sql of the AWS
 * snapshot), the GCP persona (instance gcp-web-01 of the GCP snapshot) and the EKS node persona (a
 * node of cluster eks-lab, which the AWS connector discovers too: the lab's cluster column).
 */
export function multiCloudHosts(): LabHost[] {
  return [
    { name: 'this-host' },
    { name: 'ec2-sql-server', persona: join(EXAMPLES_DIR, 'personas', 'ec2-sql-server.yaml') },
    { name: 'gcp-web', persona: join(EXAMPLES_DIR, 'personas', 'gcp-web.yaml') },
    { name: 'eks-node', persona: join(EXAMPLES_DIR, 'personas', 'eks-node.yaml') },
  ];
}

/** What the CSPM connectors import: connector definition and the clouds' CLI output, from examples/cspm/. */
const CONNECTORS = [
  { name: 'aws-lab', definition: 'connector-aws-lab.json', snapshots: ['aws-describe-instances.json', 'aws-describe-security-groups.json', 'aws-eks-describe-cluster.json'] },
  { name: 'gcp-lab', definition: 'connector-gcp-lab.json', snapshots: ['gcp-instances.json', 'gcp-firewall-rules.json', 'gcp-container-clusters.json'] },
];

/** The Defender plans the lab turns on, through `PUT /api/plans`. */
const PLANS = [
  { scope: 'subscription', id: LAB_SUBSCRIPTION, plan: 'VirtualMachines', enabled: true, subPlan: 'P2' },
  { scope: 'connector', id: 'aws-lab', plan: 'VirtualMachines', enabled: true, subPlan: 'P2' },
  { scope: 'connector', id: 'gcp-lab', plan: 'VirtualMachines', enabled: true, subPlan: 'P2' },
  { scope: 'subscription', id: LAB_SUBSCRIPTION, plan: 'SqlServerVirtualMachines', enabled: true },
  { scope: 'subscription', id: LAB_SUBSCRIPTION, plan: 'Containers', enabled: true },
] as const;

async function call(cp: ControlPlane, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<any> {
  const r = await cp.adminRequest(method, path, body);
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.body?.code ?? r.status} ${r.body?.message ?? ''}`.trim());
  return r.body;
}

const cspmFile = (f: string) => join(EXAMPLES_DIR, 'cspm', f);

/**
 * The full lab's preparation, all through the REST API (as `arcsim cspm` and `arcsim plan` do it):
 * the AWS and GCP connectors and their snapshots (so the EC2 and GCP personas, and the EKS cluster of
 * the node persona, are each seen by a connector as well as by their agent, and merged), then
 * Defender for Servers (subscription and both connectors), Defender for SQL and Defender for
 * Containers (subscription). The plans provision MDE.Linux /
 * MDE.Windows and the SQL extensions to the connected agents; this waits until every agent has
 * confirmed them, since the sensors collect nothing before.
 */
export async function prepareMultiCloud(cp: ControlPlane, out: (text: string) => void, timeoutMs = 20_000): Promise<void> {
  out('\nCSPM connectors (PUT /api/connectors/{name}, POST /api/connectors/{name}/snapshots)\n');
  const rows: Array<Record<string, unknown>> = [];
  for (const c of CONNECTORS) {
    await call(cp, 'PUT', `/api/connectors/${c.name}`, JSON.parse(readFileSync(cspmFile(c.definition), 'utf8')));
    const snapshots = c.snapshots.map((f) => ({ document: JSON.parse(readFileSync(cspmFile(f), 'utf8')), source: `examples/cspm/${f}` }));
    const r = await call(cp, 'POST', `/api/connectors/${c.name}/snapshots`, { snapshots });
    for (const [i, s] of (r.snapshots as Array<Record<string, unknown>>).entries()) rows.push({ connector: c.name, file: c.snapshots[i], kind: s.kind, resources: s.resources });
  }
  out(table(rows, ['connector', 'file', 'kind', 'resources']) + '\n');

  for (const p of PLANS) await call(cp, 'PUT', '/api/plans', p);
  out('\nDefender plans (PUT /api/plans)\n' + table(PLANS.map((p) => ({
    plan: p.plan === 'VirtualMachines' ? `Defender for Servers ${p.subPlan}` : p.plan === 'Containers' ? 'Defender for Containers' : 'Defender for SQL servers on machines', scope: `${p.scope} ${p.id}`,
  })), ['plan', 'scope']) + '\n');

  // Auto-provisioning: wait until each agent confirmed the extensions its plans deploy.
  const deadline = Date.now() + timeoutMs;
  let machines: MachineRow[] = [];
  for (;;) {
    machines = await cp.store.machines.listMachines();
    if (machines.every(provisioned)) break;
    if (Date.now() > deadline) {
      throw new Error(`the plans' extensions were not confirmed by every agent within ${timeoutMs / 1000} s: ` +
        machines.map((m) => `${m.name}: ${m.extensions.map((e) => `${e.name} ${e.status}`).join(', ') || 'none'}`).join('; '));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  out('\nExtensions deployed by the plans (confirmed by the agents)\n' + table(machines.map((m) => ({
    machine: m.name, os: m.facts.osType, sql: m.sqlInstances.map((s) => `${s.instanceName} (${s.engine})`).join(', ') || '-',
    extensions: m.extensions.map((e) => `${e.name} ${e.status}`).join(', '),
  })), ['machine', 'os', 'sql', 'extensions']) + '\n');
}

/** The example OSV feed the lab loads (examples/vulnerabilities/README.md). */
export const SAMPLE_FEED = join(EXAMPLES_DIR, 'vulnerabilities', 'debian-bookworm-sample.json');
const VM_VULN_KEY = '1195afff-c881-495e-9bc5-1486211ae03f';
const SQL_VULN_KEY = 'f97aa83c-9b63-4f9a-99f6-b22c4398f936';

/**
 * Vulnerability management in the lab, through the REST API: loads the example OSV feed (as
 * `arcsim vuln import` does), waits until the real host's software snapshot was assessed, then
 * prints the findings (DeviceTvmSoftwareVulnerabilities), the two recommendations per machine
 * ("Machines should have vulnerability findings resolved", "SQL servers on machines should have
 * vulnerability findings resolved"), the SQL VA sub-assessments of the SQL Server persona and the
 * secure score.
 */
export async function reportVulnerabilities(cp: ControlPlane, out: (text: string) => void, timeoutMs = 20_000): Promise<void> {
  const imported = await call(cp, 'POST', '/api/vulnerabilities/advisories', readFileSync(SAMPLE_FEED, 'utf8'));
  out(`\nVulnerability management: ${imported.advisories} OSV advisories loaded from examples/vulnerabilities/ (POST /api/vulnerabilities/advisories)\n`);
  const deadline = Date.now() + timeoutMs;
  let recs: Array<Record<string, any>> = [];
  for (;;) {
    await cp.vulnerabilities.idle();
    recs = (await call(cp, 'GET', '/api/recommendations?status=all')).value;
    const machines = await cp.store.machines.listMachines();
    const host = machines.find((m) => !m.facts.persona);
    if (!host || recs.some((r) => r.assessmentKey === VM_VULN_KEY && r.resourceId === host.resourceId) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const findings = (await call(cp, 'GET', '/api/vulnerabilities')).value as Array<Record<string, any>>;
  out('Findings (DeviceTvmSoftwareVulnerabilities)\n' + (findings.length ? table(findings.map((f) => ({
    machine: f.DeviceName, software: f.SoftwareName, version: f.SoftwareVersion, cve: f.CveId, update: f.RecommendedSecurityUpdate || '-',
  })), ['machine', 'software', 'version', 'cve', 'update']) : '  (none: no installed version is affected by the loaded advisories)') + '\n');
  const mine = recs.filter((r) => r.assessmentKey === VM_VULN_KEY || r.assessmentKey === SQL_VULN_KEY);
  out('\nRecommendations (GET /api/recommendations)\n' + table(mine.map((r) => ({
    recommendation: r.displayName, machine: r.details.name, status: r.status,
    findings: r.assessmentKey === VM_VULN_KEY ? `${r.details.findings} in ${r.details.softwareInventoried} packages` : `${r.details.failedRules.length} of ${r.details.rulesEvaluated} rules failed`,
  })), ['recommendation', 'machine', 'status', 'findings']) + '\n');
  for (const m of (await cp.store.machines.listMachines()).filter((x) => x.sqlInstances.some((s) => s.securityFacts))) {
    const p = /\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(m.resourceId)!;
    const subs = (await call(cp, 'GET', `/subscriptions/${p[1]}/resourceGroups/${p[2]}/providers/Microsoft.HybridCompute/machines/${m.name}/providers/Microsoft.Security/assessments/${SQL_VULN_KEY}/subAssessments?api-version=2019-01-01-preview`)).value as Array<Record<string, any>>;
    out(`\nSQL vulnerability assessment on ${m.name} (Microsoft.Security/assessments/subAssessments)\n` + table(subs.map((s) => ({
      rule: s.properties.id, title: s.properties.displayName, severity: s.properties.status.severity, status: s.properties.status.code,
      server: s.properties.resourceDetails.serverName,
    })), ['rule', 'title', 'severity', 'status', 'server']) + '\n');
  }
  const score = (await call(cp, 'GET', '/api/secure-score')).value as Array<Record<string, any>>;
  out('\nSecure score (GET /api/secure-score)\n' + table(score.map((s) => ({ subscription: s.subscription, score: `${s.score} %`, recommendations: s.recommendations, unhealthy: s.unhealthy })), ['subscription', 'score', 'recommendations', 'unhealthy']) + '\n');
}

/** MDE for its OS, with a SQL Server instance the SQL extensions of its OS, on a Kubernetes node the Defender sensor — all Succeeded. */
function provisioned(m: MachineRow): boolean {
  const ext = new Map(m.extensions.map((e) => [e.name, e.status]));
  const osType = machineOsFamily(m.facts) === 'windows' ? 'windows' : 'linux';
  const want: string[] = [mdeExtensionFor(osType)];
  if (m.sqlInstances.some((s) => s.engine === 'sqlserver')) want.push(...sqlExtensionsFor(osType));
  if (m.facts.kubernetes) want.push('microsoft.azuredefender.kubernetes');
  return want.every((n) => ext.get(n) === 'Succeeded') && [...ext.values()].every((s) => s === 'Succeeded');
}
