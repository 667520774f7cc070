import { parseResourceId } from '../../protocol/resource-ids.ts';
import type { AssetRow, ConnectorRow, CspmResourceRow, MachineRow, PlanRow } from '../store/index.ts';
import { effectivePlan, PLANS, type PlanName } from './plans.ts';

export interface BillingLine {
  assetId: string;
  assetKey: string;
  plan: PlanName;
  subPlan: string | null;
  resourceId: string;
  sourceKind: 'arc' | 'cspm';
  billed: boolean;
  reason: string;
}

export interface BillingDuplicate {
  plan: PlanName;
  resources: string[];
  assets: string[];
  reason: string;
}

export interface BillingInput {
  assets: AssetRow[];
  machines: MachineRow[];
  resources: CspmResourceRow[];
  connectors: ConnectorRow[];
  plans: PlanRow[];
}

/**
 * Which sources are billed under which plan. An Arc machine is billed while Connected
 * (Disconnected / Expired are not); a cloud instance merged with an Arc machine is billed through
 * the machine, once; a cloud instance alone is billed under its connector's Servers plan while it
 * runs (agentless coverage). A real machine seen twice — an Arc machine and a cloud instance in two
 * assets that name the same instance id or private IP — is flagged as billed twice.
 */
export function billingView(input: BillingInput): { value: BillingLine[]; duplicates: BillingDuplicate[]; summary: Record<string, number> } {
  const machines = new Map(input.machines.map((m) => [m.resourceId, m]));
  const resources = new Map(input.resources.map((r) => [r.resourceId, r]));
  const connectors = new Map(input.connectors.map((c) => [c.name, c]));
  const lines: BillingLine[] = [];
  for (const a of input.assets) {
    const cspm = a.sources.filter((s) => s.kind === 'cspm').map((s) => resources.get(s.id)).filter((r): r is CspmResourceRow => !!r);
    const arc = a.sources.filter((s) => s.kind === 'arc').map((s) => machines.get(s.id)).filter((m): m is MachineRow => !!m);
    const assetConnectors = [...new Set(cspm.map((r) => r.connector))];
    for (const m of arc) {
      const scope = { subscription: parseResourceId(m.resourceId)?.subscription ?? '', connectors: assetConnectors };
      const plans: PlanName[] = ['VirtualMachines'];
      if (m.sqlInstances.some((s) => s.engine === 'sqlserver')) plans.push('SqlServerVirtualMachines');
      for (const plan of plans) {
        const p = effectivePlan(input.plans, scope, plan);
        if (!p) continue;
        lines.push({
          assetId: a.assetId, assetKey: a.assetKey, plan, subPlan: p.subPlan, resourceId: m.resourceId, sourceKind: 'arc',
          billed: m.status === 'Connected', reason: m.status === 'Connected' ? `Arc machine Connected (${PLANS[plan].displayName})` : `Arc machine ${m.status}: not billed`,
        });
      }
    }
    for (const r of cspm) {
      const c = connectors.get(r.connector);
      if (!c) continue;
      const p = effectivePlan(input.plans, { subscription: c.subscription, connectors: [r.connector] }, 'VirtualMachines');
      if (!p) continue;
      const running = r.deletedAt === null && (r.state === 'running' || r.state === 'RUNNING');
      const viaArc = arc.length > 0;
      lines.push({
        assetId: a.assetId, assetKey: a.assetKey, plan: 'VirtualMachines', subPlan: p.subPlan, resourceId: r.resourceId, sourceKind: 'cspm',
        billed: running && !viaArc,
        reason: viaArc ? 'billed through its Arc machine (same asset)' : running ? `running instance under connector ${r.connector}` : `instance ${r.deletedAt !== null ? 'deleted' : r.state}: not billed`,
      });
    }
  }
  const duplicates: BillingDuplicate[] = [];
  const billed = lines.filter((l) => l.billed && l.plan === 'VirtualMachines');
  for (const l of billed.filter((x) => x.sourceKind === 'arc')) {
    const m = machines.get(l.resourceId)!;
    const claimed = m.facts.cloudMetadata.details?.instanceId ?? m.tags?.InstanceId ?? m.tags?.MachineId;
    const ips = new Set((m.facts.networkInterfaces ?? []).flatMap((n) => n.ipAddresses));
    for (const o of billed.filter((x) => x.sourceKind === 'cspm' && x.assetId !== l.assetId)) {
      const r = resources.get(o.resourceId)!;
      const sameId = claimed !== undefined && claimed === r.nativeId;
      const sameIp = ((r.data.privateIps as string[] | undefined) ?? []).find((ip) => ips.has(ip));
      if (!sameId && !sameIp) continue;
      duplicates.push({
        plan: 'VirtualMachines', resources: [l.resourceId, o.resourceId], assets: [l.assetId, o.assetId],
        reason: `the same machine is billed twice (unmerged): ${sameId ? `both are instance ${r.nativeId}` : `both have private IP ${sameIp}`}`,
      });
    }
  }
  const summary: Record<string, number> = {};
  for (const l of lines) if (l.billed) summary[l.plan] = (summary[l.plan] ?? 0) + 1;
  return { value: lines, duplicates, summary };
}
