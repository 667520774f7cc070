import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { loadLibrary } from '../../scenarios/index.ts';
import { mergeClusters } from '../../control-plane/inventory/clusters.ts';
import { parseSnapshot } from '../../control-plane/inventory/snapshot-formats.ts';
import type { MachineFacts } from '../../protocol/index.ts';
import type { ConnectorRow, CspmResourceRow, MachineRow } from '../../control-plane/store/index.ts';
import { cleanup, startControlPlane, TEST_FACTS } from '../helpers.ts';

/**
 * Defender for Kubernetes, multi-cloud: an Arc-enabled cluster (Microsoft.Kubernetes/connectedClusters)
 * made of the machines whose agents run on its nodes, EKS / GKE clusters from the clouds' CLI output,
 * merged as machines are, and the K8S_* alerts raised on the cluster. Expected shapes from the
 * connectedClusters REST specification (2024-01-01) and the AWS / GCP CLI documentation.
 */
const CSPM = join(import.meta.dirname, '..', '..', 'examples', 'cspm');
const read = (f: string) => JSON.parse(readFileSync(join(CSPM, f), 'utf8'));
const SUB = '00000000-0000-4000-8000-00000000a5c1';
const RG = 'arcsim-lab';

const NODE: MachineFacts = {
  ...TEST_FACTS, hostname: 'ip-10-0-3-17', machineFqdn: 'ip-10-0-3-17.ec2.internal',
  detectedProperties: { ...TEST_FACTS.detectedProperties, logicalCoreCount: '2', cloudprovider: 'AWS' },
  cloudMetadata: { provider: 'AWS', details: { instanceId: 'i-0d4e5f60718293a4b', accountId: '123456789012', region: 'us-east-1' } },
  kubernetes: { clusterName: 'eks-lab', nodeName: 'ip-10-0-3-17.ec2.internal', distribution: 'eks', infrastructure: 'aws', kubernetesVersion: 'v1.30.4-eks-a737599' },
};

test('aws eks describe-cluster and gcloud container clusters list are read as CSPM clusters; bad ones get typed errors', () => {
  const eks = parseSnapshot(read('aws-eks-describe-cluster.json'), { region: 'us-east-1' });
  assert.equal(eks.kind, 'aws-eks-cluster');
  assert.deepEqual(eks.accounts, ['123456789012'], 'the account is the ARN\'s');
  assert.deepEqual([eks.resources[0]!.name, eks.resources[0]!.region, eks.resources[0]!.state], ['eks-lab', 'us-east-1', 'ACTIVE']);
  assert.equal(eks.resources[0]!.data.auditLogging, true, 'the audit log type is enabled in the fixture');
  const gke = parseSnapshot(read('gcp-container-clusters.json'), { region: 'global' });
  assert.equal(gke.kind, 'gcp-container-clusters');
  assert.deepEqual(gke.accounts, ['arcsim-lab-gcp']);
  assert.deepEqual([gke.resources[0]!.name, gke.resources[0]!.region, gke.resources[0]!.state], ['gke-lab', 'us-central1', 'RUNNING']);

  const bad = read('aws-eks-describe-cluster.json');
  bad.cluster.status = 'RUNNING'; // a GKE status, not one of EKS's
  assert.throws(() => parseSnapshot(bad, { region: 'us-east-1' }), (e: any) => e.code === 'ARCSIM_E_SNAPSHOT_SCHEMA' && /cluster\.status/.test(e.message));
  const longName = read('gcp-container-clusters.json');
  longName[0].name = 'g'.repeat(41); // GKE: at most 40 characters
  assert.throws(() => parseSnapshot(longName, { region: 'global' }), (e: any) => e.code === 'ARCSIM_E_SNAPSHOT_LIMIT');
});

const iso0 = 0;
function machine(name: string, facts: MachineFacts): MachineRow {
  return {
    agentId: `agent-${name}`, resourceId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.HybridCompute/machines/${name}`, name, facts,
    sqlInstances: [], extensions: [], status: 'Connected', lastHeartbeat: iso0, lastStatusChange: iso0, registeredAt: iso0,
  };
}
const connectors: ConnectorRow[] = [
  { name: 'aws-lab', provider: 'AWS', accountId: '123456789012', subscription: SUB, resourceGroup: RG, location: 'eastus', config: {}, createdAt: 0, updatedAt: 0 },
  { name: 'gcp-lab', provider: 'GCP', accountId: 'arcsim-lab-gcp', subscription: SUB, resourceGroup: RG, location: 'eastus', config: {}, createdAt: 0, updatedAt: 0 },
];
function cspm(connector: string, file: string): CspmResourceRow[] {
  return parseSnapshot(read(file), { region: 'us-east-1' }).resources.map((r) => ({
    connector, kind: r.kind, nativeId: r.nativeId, resourceId: `/cspm/${connector}/${r.kind}/${r.name}`, name: r.name, region: r.region, state: r.state,
    data: r.data, firstSeen: 0, lastSeen: 0, deletedAt: null,
  }));
}

test('one cluster seen twice is one cluster: by name in the account and region the nodes report (strong), by name alone (probable), never two claimants', () => {
  const resources = [...cspm('aws-lab', 'aws-eks-describe-cluster.json'), ...cspm('gcp-lab', 'gcp-container-clusters.json')];
  const node2 = machine('ip-10-0-3-18', { ...NODE, hostname: 'ip-10-0-3-18', kubernetes: { ...NODE.kubernetes!, nodeName: 'ip-10-0-3-18.ec2.internal' } });
  const merged = mergeClusters({ machines: [machine('ip-10-0-3-17', NODE), node2], resources, connectors });
  assert.deepEqual(merged.map((a) => [a.name, a.confidence, a.arc?.nodes.length ?? 0, a.cspm.length]), [
    ['eks-lab', 'strong', 2, 1], ['gke-lab', 'single', 0, 1],
  ]);
  assert.match(merged[0]!.reasons[0]!, /AWS account 123456789012, region us-east-1/);

  // The same cluster name in another account is not this cluster.
  const elsewhere = machine('n1', { ...NODE, cloudMetadata: { provider: 'AWS', details: { accountId: '999999999999', region: 'us-east-1' } } });
  const apart = mergeClusters({ machines: [elsewhere], resources, connectors });
  assert.equal(apart.length, 3, 'the Arc cluster and the EKS cluster stay apart');
  assert.ok(apart.every((a) => a.confidence === 'single'));

  // A GKE node (zone us-central1-a) of regional cluster gke-lab (us-central1) in the project: strong.
  const gkeNode = machine('gke-node', {
    ...NODE, cloudMetadata: { provider: 'GCP', details: { projectId: 'arcsim-lab-gcp', zone: 'us-central1-a', instanceId: '1' } },
    kubernetes: { clusterName: 'gke-lab', nodeName: 'gke-gke-lab-default-pool-1a2b3c4d-x1y2' },
  });
  assert.equal(mergeClusters({ machines: [gkeNode], resources, connectors }).find((a) => a.name === 'gke-lab')!.confidence, 'strong');

  // No cloud details on the node: the name alone, and it says so.
  const onprem = machine('k3s-1', { ...NODE, cloudMetadata: { provider: 'N/A' }, kubernetes: { clusterName: 'gke-lab', nodeName: 'k3s-1' } });
  const probable = mergeClusters({ machines: [onprem], resources, connectors }).find((a) => a.name === 'gke-lab')!;
  assert.equal(probable.confidence, 'probable');
  assert.match(probable.reasons[0]!, /probable/);

  // Two Arc clusters (two resource groups) claiming one EKS cluster: a conflict, neither merged.
  const other = { ...machine('ip-10-0-9-9', NODE), resourceId: `/subscriptions/${SUB}/resourceGroups/other/providers/Microsoft.HybridCompute/machines/ip-10-0-9-9` };
  const conflict = mergeClusters({ machines: [machine('ip-10-0-3-17', NODE), other], resources, connectors });
  const eks = conflict.find((a) => a.cspm.some((r) => r.kind === 'aws-eks-cluster'))!;
  assert.equal(eks.confidence, 'single');
  assert.match(eks.conflicts[0]!, /all claim this cluster/);
});

test('a node agent makes an Arc-enabled cluster (connectedClusters, REST 2024-01-01), Defender for Containers deploys its sensor there, and the K8S_* alerts land on the cluster', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const admin = (method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown) => env.cp.adminRequest(method, path, body);
  assert.ok([200, 201].includes((await admin('PUT', '/api/connectors/aws-lab', read('connector-aws-lab.json'))).status));
  const imported = await admin('POST', '/api/connectors/aws-lab/snapshots', { snapshots: [{ document: read('aws-eks-describe-cluster.json') }] });
  assert.ok([200, 201].includes(imported.status), JSON.stringify(imported.body));
  assert.equal(imported.body.snapshots[0].kind, 'aws-eks-cluster');

  const token = await env.cp.createToken({ subscription: SUB, resourceGroup: RG });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: NODE, sqlInstances: [] }) });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;

  // Defender for Containers on: the sensor goes to the node (and only the sensor: no Servers plan).
  const installed = new Promise<string[]>((resolve) => agent.once('extensions', (list: Array<{ name: string }>) => resolve(list.map((e) => e.name))));
  assert.equal((await admin('PUT', '/api/plans', { scope: 'subscription', id: SUB, plan: 'Containers', enabled: true })).status, 200);
  assert.deepEqual(await installed, ['microsoft.azuredefender.kubernetes']);

  const base = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Kubernetes/connectedClusters`;
  const one = await admin('GET', `${base}/eks-lab?api-version=2024-01-01`);
  assert.equal(one.status, 200, JSON.stringify(one.body));
  const c = one.body;
  assert.equal(c.id, `${base}/eks-lab`);
  assert.equal(c.type, 'Microsoft.Kubernetes/connectedClusters');
  assert.deepEqual(c.identity, { type: 'SystemAssigned' });
  // The properties the REST specification defines, with its enums.
  assert.equal(typeof c.properties.agentPublicKeyCertificate, 'string');
  assert.deepEqual(
    [c.properties.totalNodeCount, c.properties.totalCoreCount, c.properties.distribution, c.properties.infrastructure, c.properties.kubernetesVersion],
    [1, 2, 'eks', 'aws', 'v1.30.4-eks-a737599'],
  );
  assert.ok(['Connecting', 'Connected', 'Offline', 'Expired'].includes(c.properties.connectivityStatus));
  assert.equal(c.properties.connectivityStatus, 'Connected');
  assert.ok(['Succeeded', 'Failed', 'Canceled', 'Provisioning', 'Updating', 'Deleting', 'Accepted'].includes(c.properties.provisioningState));
  assert.equal((await admin('GET', `${base}?api-version=2024-01-01`)).body.value.length, 1);
  // Typed errors, never a 500: no api-version, an unknown cluster.
  const noVersion = await admin('GET', `${base}/eks-lab`);
  assert.equal(noVersion.status, 400);
  assert.match(noVersion.body.code, /^ARCSIM_E_/);
  const missing = await admin('GET', `${base}/nope?api-version=2024-01-01`);
  assert.deepEqual([missing.status, missing.body.code], [404, 'ARCSIM_E_NOT_FOUND']);
  // Azure Resource Graph lists it too.
  const arg = await admin('POST', '/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01', {
    query: "resources | where type == 'microsoft.kubernetes/connectedclusters' | project name, nodes = toint(properties.totalNodeCount)",
  });
  assert.equal(arg.status, 200, JSON.stringify(arg.body));
  assert.deepEqual(arg.body.data, [{ name: 'eks-lab', nodes: 1 }]);

  // One cluster seen by Arc and by the AWS connector: one cluster asset with two sources.
  const clusters = (await admin('GET', '/api/clusters')).body.value;
  assert.equal(clusters.length, 1);
  assert.equal(clusters[0].confidence, 'strong');
  assert.deepEqual(clusters[0].sources.map((s: any) => s.kind), ['arc', 'cspm']);

  // The cluster's audit events through its node: the alerts are the cluster's.
  const detonationId = randomUUID();
  const r = await env.cp.command(agent.agentId!, { action: 'run-scenario', scenario: loadLibrary().get('kubernetes-cluster-attack') as any, detonationId });
  assert.ok(r.ok, r.message);
  const alerts = await env.store.alerts.listAlerts({ detonationId });
  assert.equal(alerts.length, 5);
  for (const a of alerts) {
    assert.equal(a.resourceId, `${base}/eks-lab`);
    assert.equal(a.properties.compromisedEntity, 'eks-lab');
  }
});
