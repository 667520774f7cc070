import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../control-plane/index.ts';
import type { MachineRow } from '../control-plane/store/index.ts';
import { mdeExtensionFor } from '../protocol/index.ts';
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

/** MDE for its OS, with a SQL Server instance both SQL extensions, on a Kubernetes node the Defender sensor — all Succeeded. */
function provisioned(m: MachineRow): boolean {
  const ext = new Map(m.extensions.map((e) => [e.name, e.status]));
  const want = [mdeExtensionFor(m.facts.osType)];
  if (m.sqlInstances.some((s) => s.engine === 'sqlserver')) want.push('WindowsAgent.SqlServer', 'AdvancedThreatProtection.Windows');
  if (m.facts.kubernetes) want.push('microsoft.azuredefender.kubernetes');
  return want.every((n) => ext.get(n) === 'Succeeded') && [...ext.values()].every((s) => s === 'Succeeded');
}
