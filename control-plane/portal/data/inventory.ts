import { parseResourceId } from '../../../protocol/index.ts';
import type { ArcStatus, AssetPageQuery, AssetRow, ConnectorRow, CspmResourceRow, ExtensionRow, MachineRow, PlanRow, Store } from '../../store/index.ts';
import { effectivePlan, PLAN_NAMES, PLANS } from '../../inventory/plans.ts';
import type { SqlInstanceFacts } from '../../../protocol/index.ts';

/** One row of the inventory: a merged asset with what each of its sources says. */
export interface AssetView {
  assetId: string;
  name: string;
  /** The Arc machine's name when the asset has one (the machine page's key). */
  machine?: string;
  sources: Array<{ kind: 'Arc' | 'AWS' | 'GCP'; name: string; resourceId: string; state?: string }>;
  confidence: AssetRow['confidence'];
  reasons: string[];
  clouds: string[];
  arcStatus: ArcStatus | null;
  sqlInstances: Array<SqlInstanceFacts & { machine: string }>;
  extensions: Array<ExtensionRow & { machine: string }>;
  plans: Array<{ plan: string; displayName: string; subPlan: string | null }>;
  conflicts: AssetRow['conflicts'];
}

/** The inventory page's filters and sort: the store's page query without its window. */
export type InventoryFilter = Omit<AssetPageQuery, 'offset' | 'limit'>;

/**
 * The merged inventory. Its size is the fleet's (assets, machines, CSPM resources, plans), not
 * the alerts' or events': the page reads the merge result and its sources once, filters, sorts and
 * pages it here; no alert or event is read.
 */
export async function inventoryView(store: Store): Promise<AssetView[]> {
  const [assets, machines, resources, connectors, plans] = await Promise.all([
    store.inventory.listAssets(), store.machines.listMachines(), store.inventory.listCspmResources({ includeDeleted: true }),
    store.inventory.listConnectors(), store.inventory.listPlans(),
  ]);
  const byMachine = new Map(machines.map((m) => [m.resourceId, m]));
  const byResource = new Map(resources.map((r) => [r.resourceId, r]));
  const byConnector = new Map(connectors.map((c) => [c.name, c]));
  return assets.map((a) => assetView(a, byMachine, byResource, byConnector, plans));
}

/**
 * One page of the inventory, filtered and sorted in SQL (InventoryRepository.pageAssets): only the
 * page's assets are resolved to their machines and CSPM resources. `total` passes the filter, `all` is stored.
 */
export async function inventoryPage(store: Store, f: InventoryFilter, page: { offset: number; limit: number }): Promise<{ rows: AssetView[]; total: number; all: number }> {
  const { rows, total, all } = await store.inventory.pageAssets({
    source: f.source, cloud: f.cloud, arcStatus: f.arcStatus, confidence: f.confidence, search: f.search || undefined, sort: f.sort, dir: f.dir, ...page,
  });
  const ids = (kind: 'arc' | 'cspm') => [...new Set(rows.flatMap((a) => a.sources.filter((s) => s.kind === kind).map((s) => s.id)))];
  const [machines, resources, connectors, plans] = await Promise.all([
    store.machines.machinesByResourceIds(ids('arc')), store.inventory.cspmResourcesByResourceIds(ids('cspm')),
    store.inventory.listConnectors(), store.inventory.listPlans(),
  ]);
  const byMachine = new Map(machines.map((m) => [m.resourceId, m]));
  const byResource = new Map(resources.map((r) => [r.resourceId, r]));
  const byConnector = new Map(connectors.map((c) => [c.name, c]));
  return { rows: rows.map((a) => assetView(a, byMachine, byResource, byConnector, plans)), total, all };
}

function assetView(a: AssetRow, machines: Map<string, MachineRow>, resources: Map<string, CspmResourceRow>, connectors: Map<string, ConnectorRow>, plans: PlanRow[]): AssetView {
  const arc = a.sources.filter((s) => s.kind === 'arc').map((s) => machines.get(s.id)).filter((m): m is MachineRow => !!m);
  const cspm = a.sources.filter((s) => s.kind === 'cspm').map((s) => resources.get(s.id)).filter((r): r is CspmResourceRow => !!r);
  const clouds = new Set<string>();
  for (const m of arc) clouds.add(m.facts.cloudMetadata.provider === 'N/A' ? 'On-premises' : m.facts.cloudMetadata.provider);
  for (const r of cspm) clouds.add(connectors.get(r.connector)?.provider ?? '?');
  const subscription = arc[0] ? parseResourceId(arc[0].resourceId)?.subscription : connectors.get(cspm[0]?.connector ?? '')?.subscription;
  const scope = { subscription: subscription ?? '', connectors: [...new Set(cspm.map((r) => r.connector))] };
  return {
    assetId: a.assetId,
    name: cspm.find((r) => r.deletedAt === null)?.name ?? arc[0]?.name ?? cspm[0]?.name ?? a.assetKey,
    machine: arc[0]?.name,
    sources: [
      ...arc.map((m) => ({ kind: 'Arc' as const, name: m.name, resourceId: m.resourceId, state: m.status })),
      ...cspm.map((r) => ({ kind: (connectors.get(r.connector)?.provider ?? 'AWS') as 'AWS' | 'GCP', name: r.name, resourceId: r.resourceId, state: r.deletedAt === null ? r.state : 'deleted' })),
    ],
    confidence: a.confidence,
    reasons: a.reasons,
    clouds: [...clouds].sort(),
    arcStatus: arc[0]?.status ?? null,
    sqlInstances: arc.flatMap((m) => m.sqlInstances.map((s) => ({ ...s, machine: m.name }))),
    extensions: arc.flatMap((m) => m.extensions.map((e) => ({ ...e, machine: m.name }))),
    plans: PLAN_NAMES.flatMap((p) => {
      const row = effectivePlan(plans, scope, p);
      return row ? [{ plan: p, displayName: PLANS[p].displayName, subPlan: row.subPlan }] : [];
    }),
    conflicts: a.conflicts,
  };
}
