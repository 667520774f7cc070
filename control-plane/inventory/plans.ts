import { z } from 'zod';
import type { ExtensionRow, MachineRow, PlanRow } from '../store/index.ts';

/** Defender plans, by their pricing names (Microsoft.Security/pricings). */
export const PLANS = {
  VirtualMachines: { displayName: 'Defender for Servers', subPlans: ['P1', 'P2'] as const, defaultSubPlan: 'P2' },
  SqlServerVirtualMachines: { displayName: 'Defender for SQL servers on machines', subPlans: [] as const, defaultSubPlan: null },
  Containers: { displayName: 'Defender for Containers', subPlans: [] as const, defaultSubPlan: null },
} as const;
export type PlanName = keyof typeof PLANS;
export const PLAN_NAMES = Object.keys(PLANS) as PlanName[];

export const PlanSetSchema = z.strictObject({
  scope: z.enum(['subscription', 'connector']),
  /** Subscription id or connector name. */
  id: z.string().min(1).max(128),
  plan: z.enum(PLAN_NAMES as [PlanName, ...PlanName[]]),
  enabled: z.boolean(),
  subPlan: z.enum(['P1', 'P2']).optional(),
}).refine((p) => p.subPlan === undefined || p.plan === 'VirtualMachines', { message: 'only VirtualMachines has sub-plans (P1, P2)', path: ['subPlan'] });
export type PlanSet = z.infer<typeof PlanSetSchema>;

/** Extensions the plans deploy, with their publishers (REFERENCE.md, "Extensions and plans"). */
export const MANAGED_EXTENSIONS: Record<string, { publisher: string; plan: PlanName }> = {
  'MDE.Linux': { publisher: 'Microsoft.Azure.AzureDefenderForServers', plan: 'VirtualMachines' },
  'MDE.Windows': { publisher: 'Microsoft.Azure.AzureDefenderForServers', plan: 'VirtualMachines' },
  'WindowsAgent.SqlServer': { publisher: 'Microsoft.AzureData', plan: 'SqlServerVirtualMachines' },
  'AdvancedThreatProtection.Windows': { publisher: 'Microsoft.Azure.AzureDefenderForSQL', plan: 'SqlServerVirtualMachines' },
  // Defender for Containers' sensor on an Arc-enabled cluster (cluster extension type microsoft.azuredefender.kubernetes).
  'microsoft.azuredefender.kubernetes': { publisher: 'Microsoft.AzureDefender.Kubernetes', plan: 'Containers' },
};

export interface PlanScope {
  subscription: string;
  /** Connectors whose resources are part of the same asset. */
  connectors: string[];
}

/**
 * The plan setting in force for a resource: a connector's own setting wins (multicloud resources
 * are billed under their connector's plans), then the subscription's. Undefined = not enabled.
 */
export function effectivePlan(plans: PlanRow[], scope: PlanScope, plan: PlanName): PlanRow | undefined {
  for (const c of [...scope.connectors].sort()) {
    const row = plans.find((p) => p.scopeKind === 'connector' && p.scope === c && p.plan === plan);
    if (row) return row.enabled ? row : undefined;
  }
  const row = plans.find((p) => p.scopeKind === 'subscription' && p.scope === scope.subscription && p.plan === plan);
  return row?.enabled ? row : undefined;
}

/**
 * Plans with an explicit setting (on or off) for the scope. Only these govern their extensions:
 * where no plan was ever set, extensions installed by hand (PUT /api/machines/{name}/extensions)
 * are left alone.
 */
export function governedPlans(plans: PlanRow[], scope: PlanScope): Set<PlanName> {
  const out = new Set<PlanName>();
  for (const p of plans) {
    const inScope = (p.scopeKind === 'connector' && scope.connectors.includes(p.scope)) || (p.scopeKind === 'subscription' && p.scope === scope.subscription);
    if (inScope) out.add(p.plan as PlanName);
  }
  return out;
}

/** The managed extensions a machine should have under the plans in force. */
export function desiredExtensions(m: MachineRow, plans: PlanRow[], scope: PlanScope): string[] {
  const out: string[] = [];
  if (effectivePlan(plans, scope, 'VirtualMachines')) out.push(/^windows$/i.test(m.facts.osType ?? '') ? 'MDE.Windows' : 'MDE.Linux');
  if (effectivePlan(plans, scope, 'SqlServerVirtualMachines') && m.sqlInstances.some((s) => s.engine === 'sqlserver')) {
    out.push('WindowsAgent.SqlServer', 'AdvancedThreatProtection.Windows');
  }
  // Defender for Containers deploys its sensor to the nodes of Arc-enabled clusters.
  if (effectivePlan(plans, scope, 'Containers') && m.facts.kubernetes) out.push('microsoft.azuredefender.kubernetes');
  return out;
}

export interface ExtensionChange {
  name: string;
  enabled: boolean;
}

/**
 * Reconciles a machine's extension list with what the plans want. Returns the new list (new ones
 * `Creating`, removed ones `Deleting` until the agent confirms) and the set-extension commands to
 * send. With `resend`, operations still in flight are sent again (after a reconnect).
 */
export function reconcileExtensions(
  current: ExtensionRow[], desired: string[], resend = false, governed?: ReadonlySet<PlanName>,
): { extensions: ExtensionRow[]; changes: ExtensionChange[] } {
  const extensions = current.map((e) => ({ ...e }));
  const changes: ExtensionChange[] = [];
  for (const name of desired) {
    const e = extensions.find((x) => x.name === name);
    if (!e) {
      extensions.push({ name, publisher: MANAGED_EXTENSIONS[name]!.publisher, status: 'Creating' });
      changes.push({ name, enabled: true });
    } else if (e.status === 'Deleting' || e.status === 'Failed' || e.status === 'Disabled' || (resend && e.status === 'Creating')) {
      e.status = 'Creating';
      changes.push({ name, enabled: true });
    }
  }
  for (const e of extensions) {
    if (!(e.name in MANAGED_EXTENSIONS) || desired.includes(e.name)) continue;
    if (governed && !governed.has(MANAGED_EXTENSIONS[e.name]!.plan)) continue; // no plan decides it: installed by hand
    if (e.status !== 'Deleting' || resend) {
      e.status = 'Deleting';
      changes.push({ name: e.name, enabled: false });
    }
  }
  return { extensions, changes };
}
