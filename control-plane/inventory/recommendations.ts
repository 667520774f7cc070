import { parseResourceId } from '../../protocol/resource-ids.ts';
import type { AssessmentCount, AssessmentRow, AssetRow, ConnectorRow, CspmResourceRow, MachineRow } from '../store/index.ts';
import { scanSqlInstance } from '../vulnerabilities/sql-va-rules.ts';

/**
 * CSPM recommendations computed from the inventory. Each has a stable assessment key: the
 * published one where Microsoft publishes it (EC2 -> Arc), otherwise a key generated once for
 * arcsim and never changed (marked `arcsimKey: true`). Every applicable resource gets a Healthy or
 * Unhealthy assessment; the secure score is computed from both.
 */
export interface Recommendation {
  key: string;
  displayName: string;
  severity: 'High' | 'Medium' | 'Low';
  remediation: string;
  /** true when the key was generated for arcsim (no published key). */
  arcsimKey: boolean;
}

export const RECOMMENDATIONS = {
  ec2Arc: {
    key: '231dee23-84db-44d2-bd9d-c32fbcfb42a3', arcsimKey: false, severity: 'Medium',
    displayName: 'EC2 instances should be connected to Azure Arc',
    remediation: 'Connect the instance to Azure Arc: enable auto-provisioning of the Arc agent on the AWS connector, or install the agent (arcsim: run `arcsim agent` on the instance) with an enrollment token.',
  },
  gcpArc: {
    key: 'cc1b754f-4fd7-4a3e-9556-3aef84de93f1', arcsimKey: true, severity: 'Medium',
    displayName: 'GCP VM instances should be connected to Azure Arc',
    remediation: 'Connect the VM to Azure Arc: enable auto-provisioning of the Arc agent on the GCP connector, or install the agent (arcsim: run `arcsim agent` on the VM) with an enrollment token.',
  },
  mde: {
    key: 'f464ef7e-e023-4429-a87a-9b75ad1af723', arcsimKey: true, severity: 'High',
    displayName: 'Machines should have Defender for Endpoint installed',
    remediation: 'Enable Defender for Servers (P1 or P2) on the subscription or connector: it deploys MDE.Windows / MDE.Linux to connected machines. Or deploy the extension yourself.',
  },
  awsMgmtPorts: {
    key: '96bc321d-6283-43cb-acfe-cb8f85b3032c', arcsimKey: true, severity: 'High',
    displayName: 'Management ports should be closed on internet-facing security groups',
    remediation: 'Remove the ingress rules that allow 0.0.0.0/0 or ::/0 to TCP 22 or 3389 (aws ec2 revoke-security-group-ingress); allow only trusted ranges or use just-in-time access / Session Manager.',
  },
  gcpMgmtPorts: {
    key: '59ff1b64-83be-4c61-b920-f3f95a4b932b', arcsimKey: true, severity: 'High',
    displayName: 'Management ports should be closed on internet-facing firewall rules',
    remediation: 'Restrict the firewall rule\'s sourceRanges to trusted ranges, or disable it (gcloud compute firewall-rules update NAME --source-ranges=... / --disabled); use IAP TCP forwarding for SSH/RDP.',
  },
  awsSql: {
    key: '38bcdf7e-d49a-4a5c-8b34-1e9b5f3940cc', arcsimKey: true, severity: 'High',
    displayName: 'SQL servers should not be reachable from the internet (security groups)',
    remediation: 'Remove the ingress rules that allow 0.0.0.0/0 or ::/0 to TCP 1433, 3306 or 5432; reach databases through private networking only.',
  },
  gcpSql: {
    key: '36762bb0-aadf-4663-95ec-9f4bef1ac1d0', arcsimKey: true, severity: 'High',
    displayName: 'SQL servers should not be reachable from the internet (firewall rules)',
    remediation: 'Restrict or disable the firewall rules that allow 0.0.0.0/0 or ::/0 to TCP 1433, 3306 or 5432.',
  },
  vmVulnerabilities: {
    // Published key (Defender for Cloud workbooks: "Vulnerabilities in your virtual machines should be remediated", its former name).
    key: '1195afff-c881-495e-9bc5-1486211ae03f', arcsimKey: false, severity: 'High',
    displayName: 'Machines should have vulnerability findings resolved',
    remediation: 'Update the affected software to the fixed versions listed in the findings (apt-get install --only-upgrade PACKAGE, dnf upgrade PACKAGE, or the vendor\'s update), then let the agent report its inventory again.',
  },
  sqlVulnerabilities: {
    key: 'f97aa83c-9b63-4f9a-99f6-b22c4398f936', arcsimKey: false, severity: 'High',
    displayName: 'SQL servers on machines should have vulnerability findings resolved',
    remediation: 'Apply the remediation of each failed SQL vulnerability assessment rule (the sub-assessments list them, with the T-SQL or setting to change), then scan again.',
  },
} as const satisfies Record<string, Recommendation>;

/**
 * Recommendations evaluated apart from the inventory's merge (control-plane/vulnerabilities/):
 * the inventory's evaluations neither write nor retire their assessments.
 */
export const ASSESSED_ELSEWHERE: ReadonlySet<string> = new Set([RECOMMENDATIONS.vmVulnerabilities.key]);

/** The SQL vulnerability assessment of one machine: every rule evaluated on each of its SQL Server instances. */
export function sqlVaResults(m: MachineRow): Array<{ instanceName: string; results: ReturnType<typeof scanSqlInstance> }> {
  return m.sqlInstances.map((s) => ({ instanceName: s.instanceName, results: scanSqlInstance(s) })).filter((x) => x.results.length > 0);
}

export const RECOMMENDATION_BY_KEY = new Map<string, Recommendation>(Object.values(RECOMMENDATIONS).map((r) => [r.key, r]));

export const MANAGEMENT_PORTS = [22, 3389];
export const SQL_PORTS = [1433, 3306, 5432];
const OPEN = new Set(['0.0.0.0/0', '::/0']);

export interface Assessment {
  key: string;
  resourceId: string;
  subscription: string;
  status: 'Healthy' | 'Unhealthy';
  details: Record<string, unknown>;
}

export interface RecommendationInput {
  machines: MachineRow[];
  resources: CspmResourceRow[];
  connectors: ConnectorRow[];
  assets: AssetRow[];
}

interface SgRule { protocol: string; fromPort: number | null; toPort: number | null; sources: string[] }
interface FwRule { direction: string; disabled: boolean; sourceRanges: string[]; allowed: Array<{ protocol: string; ports: string[] }>; targetTags: string[]; network: string }

/** Ports among `ports` an AWS security group opens to the whole internet. */
export function sgOpenPorts(rules: SgRule[], ports: number[]): number[] {
  return ports.filter((port) => rules.some((r) =>
    r.sources.some((s) => OPEN.has(s)) &&
    (r.protocol === '-1' || ((r.protocol === 'tcp' || r.protocol === '6') && (r.fromPort === null || (r.fromPort <= port && port <= (r.toPort ?? r.fromPort)))))));
}

/** Ports among `ports` an enabled GCP ingress firewall rule opens to the whole internet. */
export function firewallOpenPorts(f: FwRule, ports: number[]): number[] {
  if (f.direction !== 'INGRESS' || f.disabled || !f.sourceRanges.some((s) => OPEN.has(s))) return [];
  return ports.filter((port) => f.allowed.some((a) => {
    if (a.protocol !== 'all' && a.protocol !== 'tcp' && a.protocol !== '6') return false;
    if (a.ports.length === 0) return true;
    return a.ports.some((spec) => {
      const [lo, hi] = spec.split('-').map(Number);
      return lo! <= port && port <= (hi ?? lo!);
    });
  }));
}

/** Every applicable (recommendation, resource) pair with its status. Deterministic order. */
export function evaluateRecommendations(input: RecommendationInput): Assessment[] {
  const out: Assessment[] = [];
  const connectors = new Map(input.connectors.map((c) => [c.name, c]));
  const assetOf = new Map<string, AssetRow>();
  for (const a of input.assets) for (const s of a.sources) assetOf.set(s.id, a);
  const live = input.resources.filter((r) => r.deletedAt === null && connectors.has(r.connector));
  const instances = live.filter((r) => r.kind === 'aws-ec2-instance' || r.kind === 'gcp-compute-instance');

  for (const r of instances) {
    const rec = r.kind === 'aws-ec2-instance' ? RECOMMENDATIONS.ec2Arc : RECOMMENDATIONS.gcpArc;
    if (r.state !== 'running' && r.state !== 'RUNNING') continue; // a stopped VM cannot run the agent: not applicable
    const asset = assetOf.get(r.resourceId);
    const arc = asset?.sources.find((s) => s.kind === 'arc');
    out.push({
      key: rec.key, resourceId: r.resourceId, subscription: connectors.get(r.connector)!.subscription,
      status: arc ? 'Healthy' : 'Unhealthy',
      details: { name: r.name, instanceId: r.nativeId, connector: r.connector, region: r.region, ...(arc ? { arcMachine: arc.id, mergeConfidence: asset!.confidence } : {}) },
    });
  }

  for (const m of input.machines) {
    if (m.status === 'Expired') continue;
    const mde = m.extensions.find((e) => e.name === 'MDE.Linux' || e.name === 'MDE.Windows');
    out.push({
      key: RECOMMENDATIONS.mde.key, resourceId: m.resourceId, subscription: parseResourceId(m.resourceId)?.subscription ?? '',
      status: mde?.status === 'Succeeded' ? 'Healthy' : 'Unhealthy',
      details: { name: m.name, osType: m.facts.osType ?? 'unknown', mdeExtension: mde ? `${mde.name} (${mde.status})` : 'none' },
    });
    // SQL vulnerability assessment: a machine whose SQL Server instances have declared facts to scan.
    const va = sqlVaResults(m);
    if (va.length) {
      const failed = va.flatMap((i) => i.results.filter((r) => r.status === 'Unhealthy').map((r) => `${i.instanceName}: ${r.rule.id}`));
      out.push({
        key: RECOMMENDATIONS.sqlVulnerabilities.key, resourceId: m.resourceId, subscription: parseResourceId(m.resourceId)?.subscription ?? '',
        status: failed.length ? 'Unhealthy' : 'Healthy',
        details: { name: m.name, instances: va.map((i) => i.instanceName), rulesEvaluated: va.reduce((n, i) => n + i.results.length, 0), failedRules: failed },
      });
    }
  }

  for (const r of live) {
    const sub = connectors.get(r.connector)!.subscription;
    if (r.kind === 'aws-security-group') {
      const rules = r.data.ingress as SgRule[];
      const users = instances.filter((i) => ((i.data.securityGroupIds as string[] | undefined) ?? []).includes(r.nativeId)).map((i) => i.nativeId);
      for (const [rec, ports] of [[RECOMMENDATIONS.awsMgmtPorts, MANAGEMENT_PORTS], [RECOMMENDATIONS.awsSql, SQL_PORTS]] as const) {
        const open = sgOpenPorts(rules, [...ports]);
        out.push({ key: rec.key, resourceId: r.resourceId, subscription: sub, status: open.length ? 'Unhealthy' : 'Healthy', details: { name: r.name, groupId: r.nativeId, openPorts: open, instances: users } });
      }
    }
    if (r.kind === 'gcp-firewall-rule') {
      const f = r.data as unknown as FwRule;
      const users = instances.filter((i) => i.kind === 'gcp-compute-instance' && ((i.data.networks as string[] | undefined) ?? []).includes(f.network) &&
        (f.targetTags.length === 0 || ((i.data.networkTags as string[] | undefined) ?? []).some((t) => f.targetTags.includes(t)))).map((i) => i.name);
      for (const [rec, ports] of [[RECOMMENDATIONS.gcpMgmtPorts, MANAGEMENT_PORTS], [RECOMMENDATIONS.gcpSql, SQL_PORTS]] as const) {
        const open = firewallOpenPorts(f, [...ports]);
        out.push({ key: rec.key, resourceId: r.resourceId, subscription: sub, status: open.length ? 'Unhealthy' : 'Healthy', details: { name: r.name, openPorts: open, instances: users } });
      }
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key) || a.resourceId.localeCompare(b.resourceId));
}

/**
 * Applies an evaluation to the stored assessments: only rows whose status or details changed are
 * written (first_seen is kept, status_changed moves only with the status), so repeated scans of
 * the same state change nothing. Assessments whose resource is no longer applicable become
 * Healthy (the resource was fixed, deleted or stopped). Returns the rows to write.
 */
export function diffAssessments(previous: AssessmentRow[], next: Assessment[], now: number): AssessmentRow[] {
  const prev = new Map(previous.map((p) => [`${p.assessmentKey} ${p.resourceId}`, p]));
  const writes: AssessmentRow[] = [];
  const seen = new Set<string>();
  for (const a of next) {
    const id = `${a.key} ${a.resourceId}`;
    seen.add(id);
    const p = prev.get(id);
    if (p && p.status === a.status && JSON.stringify(p.details) === JSON.stringify(a.details) && p.subscription === a.subscription) continue;
    writes.push({
      assessmentKey: a.key, resourceId: a.resourceId, subscription: a.subscription, status: a.status, details: a.details,
      firstSeen: p?.firstSeen ?? now, statusChanged: p && p.status === a.status ? p.statusChanged : now,
    });
  }
  for (const p of previous) {
    const id = `${p.assessmentKey} ${p.resourceId}`;
    if (seen.has(id) || (p.status === 'Healthy' && p.details.notApplicable)) continue;
    writes.push({ ...p, status: 'Healthy', details: { ...p.details, notApplicable: true }, statusChanged: p.status === 'Healthy' ? p.statusChanged : now });
  }
  return writes;
}

const WEIGHT = { High: 3, Medium: 2, Low: 1 } as const;

/**
 * Secure score per subscription, MDC style: each recommendation with at least one applicable
 * resource in the subscription is worth its severity weight in points (High 3, Medium 2, Low 1)
 * and earns them in proportion to its healthy resources; score = earned / possible × 100.
 */
export function secureScores(rows: AssessmentRow[]): SecureScore[] {
  return secureScoresOf(rows.map((r) => ({ assessmentKey: r.assessmentKey, subscription: r.subscription, status: r.status, notApplicable: !!r.details.notApplicable, count: 1 })));
}

export interface SecureScore { subscription: string; score: number; current: number; max: number; recommendations: number; unhealthy: number }

/** secureScores from assessment counts (AssessmentCount rows: the store groups them in SQL). */
export function secureScoresOf(counts: Array<Pick<AssessmentCount, 'assessmentKey' | 'subscription' | 'status' | 'notApplicable' | 'count'>>): SecureScore[] {
  const subs = new Map<string, Map<string, { healthy: number; total: number }>>();
  for (const r of counts) {
    if (r.notApplicable) continue;
    const byRec = subs.get(r.subscription) ?? new Map();
    const c = byRec.get(r.assessmentKey) ?? { healthy: 0, total: 0 };
    c.total += r.count;
    if (r.status === 'Healthy') c.healthy += r.count;
    byRec.set(r.assessmentKey, c);
    subs.set(r.subscription, byRec);
  }
  return [...subs].sort(([a], [b]) => a.localeCompare(b)).map(([subscription, byRec]) => {
    let current = 0, max = 0, unhealthy = 0;
    for (const [key, c] of byRec) {
      const w = WEIGHT[RECOMMENDATION_BY_KEY.get(key)?.severity ?? 'Low'];
      max += w;
      current += (w * c.healthy) / c.total;
      unhealthy += c.total - c.healthy;
    }
    const round = (x: number) => Math.round(x * 100) / 100;
    return { subscription, score: max ? round((current / max) * 100) : 100, current: round(current), max, recommendations: byRec.size, unhealthy };
  });
}
