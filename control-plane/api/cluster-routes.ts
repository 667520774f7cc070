import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Store } from '../store/index.ts';
import { arcClusters, mergeClusters, toConnectedCluster, type ArcCluster, type ClusterAsset } from '../inventory/clusters.ts';
import { ERROR_RESPONSES, listOf, ROLE } from './http.ts';

/**
 * Kubernetes clusters (docs/kubernetes.md): the Arc-enabled clusters as ARM serves
 * Microsoft.Kubernetes/connectedClusters (api-version 2024-01-01), and every cluster once, Arc
 * and CSPM (EKS / GKE) sources merged, at /api/clusters.
 */
export interface ClusterRouteDeps {
  store: Store;
}

/** The api-version of the connectedClusters REST API arcsim serves. */
export const CONNECTED_CLUSTERS_API_VERSION = '2024-01-01';

const tags = ['clusters'];
const ConnectedCluster = z.looseObject({ id: z.string(), name: z.string(), type: z.string(), location: z.string(), properties: z.looseObject({}) })
  .meta({ id: 'ConnectedCluster', description: 'Microsoft.Kubernetes/connectedClusters (2024-01-01), plus `arcsim` (nodes, extensions)' });
const ClusterAssetView = z.looseObject({ key: z.string(), name: z.string(), confidence: z.string(), sources: z.array(z.unknown()) }).meta({ id: 'ClusterAsset' });
const ArmQuery = z.strictObject({ 'api-version': z.literal(CONNECTED_CLUSTERS_API_VERSION, { error: `api-version must be ${CONNECTED_CLUSTERS_API_VERSION}` }) });
const Sub = { sub: z.string().min(1).max(100) };
const Rg = { rg: z.string().min(1).max(90) };
const Name = { name: z.string().min(1).max(63) };

export const clusterRoutes: FastifyPluginAsyncZod<ClusterRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const locationOf = async (c: ArcCluster) => (await store.agents.getAgent(c.nodes[0]!.agentId))?.location ?? 'eastus';
  const view = async (c: ArcCluster) => toConnectedCluster(c, await locationOf(c));
  const clusters = async () => arcClusters(await store.machines.listMachines());
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

  app.get('/subscriptions/:sub/providers/Microsoft.Kubernetes/connectedClusters', {
    schema: { tags, summary: 'Arc-enabled Kubernetes clusters of a subscription', security: ROLE.reader, params: z.strictObject(Sub), querystring: ArmQuery, response: { 200: listOf(ConnectedCluster), ...ERROR_RESPONSES } },
  }, async (req) => ({ value: await Promise.all((await clusters()).filter((c) => same(c.subscription, req.params.sub)).map(view)) }));

  app.get('/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Kubernetes/connectedClusters', {
    schema: { tags, summary: 'Arc-enabled Kubernetes clusters of a resource group', security: ROLE.reader, params: z.strictObject({ ...Sub, ...Rg }), querystring: ArmQuery, response: { 200: listOf(ConnectedCluster), ...ERROR_RESPONSES } },
  }, async (req) => ({ value: await Promise.all((await clusters()).filter((c) => same(c.subscription, req.params.sub) && same(c.resourceGroup, req.params.rg)).map(view)) }));

  app.get('/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Kubernetes/connectedClusters/:name', {
    schema: { tags, summary: 'One Arc-enabled Kubernetes cluster', security: ROLE.reader, params: z.strictObject({ ...Sub, ...Rg, ...Name }), querystring: ArmQuery, response: { 200: ConnectedCluster, ...ERROR_RESPONSES } },
  }, async (req) => {
    const c = (await clusters()).find((x) => same(x.subscription, req.params.sub) && same(x.resourceGroup, req.params.rg) && same(x.name, req.params.name));
    if (!c) throw protocolError('ARCSIM_E_NOT_FOUND', `connected cluster ${req.params.name} in ${req.params.sub}/${req.params.rg}`, 'name');
    return view(c);
  });

  app.get('/api/clusters', {
    schema: { tags, summary: 'Kubernetes clusters, each once: Arc-enabled clusters merged with the EKS / GKE clusters of the CSPM connectors', security: ROLE.reader, response: { 200: listOf(ClusterAssetView), ...ERROR_RESPONSES } },
  }, async () => {
    const [machines, resources, connectors] = await Promise.all([store.machines.listMachines(), store.inventory.listCspmResources(), store.inventory.listConnectors()]);
    return { value: await Promise.all(mergeClusters({ machines, resources, connectors }).map(clusterView)) };
  });

  async function clusterView(a: ClusterAsset) {
    return {
      key: a.key, name: a.name, confidence: a.confidence, reasons: a.reasons, conflicts: a.conflicts,
      connectedCluster: a.arc ? await view(a.arc) : null,
      sources: [
        ...(a.arc ? [{ kind: 'arc', id: a.arc.resourceId, nodes: a.arc.nodes.map((m) => m.resourceId) }] : []),
        ...a.cspm.map((r) => ({ kind: 'cspm', id: r.resourceId, connector: r.connector, type: r.kind, region: r.region, state: r.state, properties: r.data })),
      ],
    };
  }
};
