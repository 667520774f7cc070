import { createHash } from 'node:crypto';
import { connectedClusterResourceId, parseResourceId } from '../../protocol/index.ts';
import type { ConnectorRow, CspmResourceRow, MachineRow } from '../store/index.ts';

/**
 * Kubernetes clusters: the Arc-enabled ones (Microsoft.Kubernetes/connectedClusters), made of the
 * Arc machines whose agent runs on one of their nodes (`facts.kubernetes`), and the EKS / GKE
 * clusters a CSPM connector discovered (`aws eks describe-cluster`, `gcloud container clusters
 * list`). As with machines (asset-merge.ts), one cluster seen by both is one cluster asset. A pure
 * function of its inputs (sorted first), recomputed on read.
 */

export const CLUSTER_KINDS = new Set(['aws-eks-cluster', 'gcp-gke-cluster']);

/** One Arc-enabled cluster: its ARM id, and the machines (nodes) whose agents report it. */
export interface ArcCluster {
  resourceId: string;
  name: string;
  subscription: string;
  resourceGroup: string;
  nodes: MachineRow[];
}

/** The Arc clusters the machines form: one per subscription, resource group and cluster name. */
export function arcClusters(machines: MachineRow[]): ArcCluster[] {
  const out = new Map<string, ArcCluster>();
  for (const m of [...machines].sort((a, b) => a.resourceId.localeCompare(b.resourceId))) {
    const k = m.facts.kubernetes;
    const ids = parseResourceId(m.resourceId);
    if (!k || !ids) continue;
    const resourceId = connectedClusterResourceId(ids.subscription, ids.resourceGroup, k.clusterName);
    const key = resourceId.toLowerCase();
    const c = out.get(key) ?? { resourceId, name: k.clusterName, subscription: ids.subscription, resourceGroup: ids.resourceGroup, nodes: [] };
    c.nodes.push(m);
    out.set(key, c);
  }
  return [...out.values()];
}

/** The most common value (ties: the first in order), or undefined. */
function mostCommon(values: Array<string | undefined>): string | undefined {
  const n = new Map<string, number>();
  for (const v of values) if (v) n.set(v, (n.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, c] of n) if (best === undefined || c > n.get(best)!) best = v;
  return best;
}

/** connectedClusters `infrastructure` from the nodes' cloud, when the agent config does not say. */
const INFRASTRUCTURE: Record<string, string> = { AWS: 'aws', GCP: 'gcp', Azure: 'azure' };

/**
 * The cluster as `GET …/providers/Microsoft.Kubernetes/connectedClusters/{name}` returns it
 * (api-version 2024-01-01; property names and enums from the REST specification,
 * azure-rest-api-specs hybridkubernetes/…/2024-01-01/connectedClusters.json). Nodes are its Arc
 * machines: `connectivityStatus` is Connected while one of them is, `lastConnectivityTime` their
 * latest heartbeat. `agentPublicKeyCertificate` stands for the certificate the Arc agents generate:
 * arcsim has none, so it is a stable digest of the resource id (base64), never a real key.
 */
export function toConnectedCluster(c: ArcCluster, location: string) {
  const nodes = c.nodes;
  const k = nodes.map((m) => m.facts.kubernetes!);
  const connected = nodes.some((m) => m.status === 'Connected');
  const last = Math.max(...nodes.map((m) => m.lastHeartbeat));
  const created = Math.min(...nodes.map((m) => m.registeredAt));
  const cores = nodes.reduce((n, m) => n + (Number(m.facts.detectedProperties.logicalCoreCount) || 0), 0);
  const infrastructure = mostCommon(k.map((x) => x.infrastructure)) ?? INFRASTRUCTURE[mostCommon(nodes.map((m) => m.facts.cloudMetadata.provider)) ?? ''] ?? 'generic';
  return {
    id: c.resourceId,
    name: c.name,
    type: 'Microsoft.Kubernetes/connectedClusters',
    location,
    tags: {},
    identity: { type: 'SystemAssigned' },
    systemData: { createdAt: new Date(created).toISOString() },
    properties: {
      agentPublicKeyCertificate: createHash('sha256').update(c.resourceId.toLowerCase()).digest('base64'),
      kubernetesVersion: mostCommon(k.map((x) => x.kubernetesVersion)),
      totalNodeCount: nodes.length,
      totalCoreCount: cores,
      agentVersion: mostCommon(nodes.map((m) => m.facts.agentVersion)),
      provisioningState: 'Succeeded',
      distribution: mostCommon(k.map((x) => x.distribution)) ?? 'generic',
      infrastructure,
      lastConnectivityTime: new Date(last).toISOString(),
      connectivityStatus: connected ? 'Connected' : 'Offline',
      privateLinkState: 'Disabled',
      azureHybridBenefit: 'NotApplicable',
    },
    arcsim: {
      nodes: nodes.map((m) => ({ machine: m.resourceId, nodeName: m.facts.kubernetes!.nodeName, status: m.status })),
      extensions: [...new Set(nodes.flatMap((m) => m.extensions.filter((e) => e.status === 'Succeeded').map((e) => e.name)))].sort(),
    },
  };
}

export interface ClusterAsset {
  /** `arc/<connectedClusters id>` or `<provider>/<account>/<location>/<name>` (lower case). */
  key: string;
  name: string;
  confidence: 'single' | 'strong' | 'probable';
  arc?: ArcCluster;
  cspm: CspmResourceRow[];
  reasons: string[];
  conflicts: string[];
}

/** Where a CSPM cluster is: provider, account / project, region / location, name. */
function cspmCoordinates(r: CspmResourceRow, connectors: Map<string, ConnectorRow>) {
  const c = connectors.get(r.connector)!;
  return { provider: c.provider, account: c.accountId, location: r.region, name: r.name };
}

/** Whether a node in `zone` (GCE `us-central1-a`) or `region` (AWS) lies in the cluster's location. */
function inLocation(location: string, where: string | undefined): boolean {
  if (!where) return false;
  return where === location || where.startsWith(`${location}-`);
}

/**
 * One asset per real cluster. An Arc cluster is the EKS / GKE cluster of the same name in the
 * account / project and region its nodes' agents read from their cloud's metadata service
 * (`cloudMetadata.details`: AWS accountId + region, GCP projectId + zone): `strong`. Without those
 * details, a CSPM cluster of that name alone among all connectors' clusters: `probable`, and said
 * so. Two Arc clusters claiming one CSPM cluster are a conflict: neither is merged.
 */
export function mergeClusters(input: { machines: MachineRow[]; resources: CspmResourceRow[]; connectors: ConnectorRow[] }): ClusterAsset[] {
  const connectors = new Map(input.connectors.map((c) => [c.name, c]));
  const cspm = input.resources
    .filter((r) => CLUSTER_KINDS.has(r.kind) && connectors.has(r.connector) && r.deletedAt === null)
    .sort((a, b) => a.resourceId.localeCompare(b.resourceId));
  const arc = arcClusters(input.machines);

  const claims = new Map<string, Array<{ c: ArcCluster; reason: string; strong: boolean }>>();
  for (const c of arc) {
    const providers = new Set(c.nodes.map((m) => m.facts.cloudMetadata.provider.toUpperCase()));
    const details = c.nodes.map((m) => m.facts.cloudMetadata.details ?? {});
    const strong = cspm.filter((r) => {
      const x = cspmCoordinates(r, connectors);
      if (x.name.toLowerCase() !== c.name.toLowerCase() || !providers.has(x.provider)) return false;
      return details.some((d) => x.provider === 'AWS'
        ? d.accountId === x.account && inLocation(x.location, d.region)
        : d.projectId === x.account && inLocation(x.location, d.zone));
    });
    if (strong.length === 1) {
      const x = cspmCoordinates(strong[0]!, connectors);
      const via = x.provider === 'AWS' ? `AWS account ${x.account}, region ${x.location}` : `GCP project ${x.account}, location ${x.location}`;
      claims.set(strong[0]!.resourceId, [...(claims.get(strong[0]!.resourceId) ?? []), { c, strong: true, reason: `cluster name ${c.name} in ${via} (the nodes' cloud metadata)` }]);
      continue;
    }
    const byName = cspm.filter((r) => r.name.toLowerCase() === c.name.toLowerCase());
    const located = details.some((d) => d.accountId || d.projectId); // the nodes say where they are: the name alone does not decide
    if (strong.length === 0 && !located && byName.length === 1) {
      claims.set(byName[0]!.resourceId, [...(claims.get(byName[0]!.resourceId) ?? []), { c, strong: false, reason: `cluster name ${c.name} only (the nodes report no cloud account): probable` }]);
    }
  }

  const out: ClusterAsset[] = [];
  const placed = new Set<string>();
  for (const r of cspm) {
    const x = cspmCoordinates(r, connectors);
    const key = `${x.provider.toLowerCase()}/${x.account}/${x.location}/${x.name}`.toLowerCase();
    const list = claims.get(r.resourceId) ?? [];
    if (list.length === 1) {
      const { c, strong, reason } = list[0]!;
      placed.add(c.resourceId);
      out.push({ key, name: x.name, confidence: strong ? 'strong' : 'probable', arc: c, cspm: [r], reasons: [reason], conflicts: [] });
    } else {
      const conflicts = list.length > 1 ? [`Arc clusters ${list.map((l) => l.c.resourceId).join(', ')} all claim this cluster: not merged`] : [];
      out.push({ key, name: x.name, confidence: 'single', cspm: [r], reasons: [], conflicts });
    }
  }
  for (const c of arc) {
    if (placed.has(c.resourceId)) continue;
    out.push({ key: `arc/${c.resourceId.toLowerCase()}`, name: c.name, confidence: 'single', arc: c, cspm: [], reasons: [], conflicts: [] });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}
