import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { loadAgentConfig } from '../../agent/agent-config.ts';
import { kubernetesFacts } from '../../agent/inventory.ts';
import { runOfflineDetection } from '../../control-plane/detection/offline-detect.ts';
import { toKubernetesAuditRow } from '../../scenarios/recorded/index.ts';
import { cleanup, tempDir } from '../helpers.ts';

/**
 * deploy/kubernetes/ against the Kubernetes v1.30.0 JSON schemas (standalone-strict: every
 * object closed, so a misspelt or misplaced field fails), pinned in test/fixtures/k8s-schemas/
 * (see its README for where they come from).
 */
const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');
const SCHEMAS = join(import.meta.dirname, '..', 'fixtures', 'k8s-schemas');
const SCHEMA_OF: Record<string, string> = {
  'v1/Namespace': 'namespace-v1', 'v1/ServiceAccount': 'serviceaccount-v1', 'v1/ConfigMap': 'configmap-v1',
  'v1/Secret': 'secret-v1', 'apps/v1/DaemonSet': 'daemonset-apps-v1',
};

// The schemas carry x-kubernetes-* annotations and formats (int32, int-or-string) that are not JSON Schema's.
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false });
const validators = new Map<string, ReturnType<Ajv['compile']>>();
function validatorFor(apiVersion: string, kind: string) {
  const name = SCHEMA_OF[`${apiVersion}/${kind}`];
  if (!name) return undefined;
  let v = validators.get(name);
  if (!v) validators.set(name, (v = ajv.compile(JSON.parse(gunzipSync(readFileSync(join(SCHEMAS, `${name}.json.gz`))).toString('utf8')))));
  return v;
}

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };
function manifests(dir = DEPLOY): Array<{ file: string; doc: Doc }> {
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
      assert.equal(d.errors.length, 0, `${file}: ${d.errors[0]?.message}`);
      return { file, doc: d.toJS() as Doc };
    }));
}

function problems(doc: Doc): string | undefined {
  const v = validatorFor(doc.apiVersion, doc.kind);
  if (!v) return `no pinned schema for ${doc.apiVersion} ${doc.kind}`;
  return v(doc) ? undefined : ajv.errorsText(v.errors);
}

test('every manifest under deploy/kubernetes/ is valid against the Kubernetes 1.30 schema of its kind', () => {
  const all = manifests();
  assert.deepEqual(all.map((m) => m.doc.kind).sort(), ['ConfigMap', 'DaemonSet', 'Namespace', 'Secret', 'ServiceAccount']);
  for (const { file, doc } of all) assert.equal(problems(doc), undefined, `${file} (${doc.kind} ${doc.metadata.name})`);
});

test('the schemas refuse what kubectl would: a misplaced field, a wrong type, an unknown apiVersion for the kind', () => {
  const ds = manifests().find((m) => m.doc.kind === 'DaemonSet')!.doc;
  const misplaced = structuredClone(ds);
  misplaced.spec.template.spec.containers[0].privilege = true; // a typo of securityContext.privileged, at the wrong level
  assert.match(problems(misplaced)!, /additional properties/);
  const wrongType = structuredClone(ds);
  wrongType.spec.template.spec.containers[0].securityContext.privileged = 'false';
  assert.match(problems(wrongType)!, /must be boolean/);
  const oldApi = structuredClone(ds);
  oldApi.apiVersion = 'extensions/v1beta1';
  assert.match(problems(oldApi)!, /no pinned schema|allowed values/);
});

test('the DaemonSet runs the agent on every node as a member of the cluster the ConfigMap names', (t) => {
  const all = manifests();
  const ds = all.find((m) => m.doc.kind === 'DaemonSet')!.doc;
  const cm = all.find((m) => m.doc.kind === 'ConfigMap')!.doc;
  const pod = ds.spec.template.spec;
  // The selector selects the template's pods (the API server refuses the DaemonSet otherwise).
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels as Record<string, string>)) assert.equal(ds.spec.template.metadata.labels[k], v);
  // Everything lives in the namespace the manifests create.
  const ns = all.find((m) => m.doc.kind === 'Namespace')!.doc.metadata.name;
  for (const { doc } of all.filter((m) => m.doc.kind !== 'Namespace')) assert.equal(doc.metadata.namespace, ns, doc.kind);
  const agent = pod.containers.find((c: any) => c.name === 'agent');
  // The node name comes from the downward API, as the agent reads it (NODE_NAME).
  assert.deepEqual(agent.env.find((e: any) => e.name === 'NODE_NAME').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  assert.equal(agent.securityContext.privileged, false);
  assert.equal(agent.securityContext.allowPrivilegeEscalation, false);
  assert.equal(pod.automountServiceAccountToken, false);
  // Its config file is one the agent accepts (the real loader), and gives the node its cluster.
  const dir = tempDir();
  t.after(() => cleanup(dir));
  writeFileSync(join(dir, 'agent.yaml'), cm.data['agent.yaml']);
  const config = loadAgentConfig(join(dir, 'agent.yaml'));
  assert.equal(config.sysRoot, '/host');
  assert.ok(agent.volumeMounts.some((m: any) => m.mountPath === '/host/sys'), 'the node /sys is where sysRoot points');
  assert.deepEqual(kubernetesFacts(config.kubernetes!, { NODE_NAME: 'aks-nodepool1-12345678-vmss000000' }, 'ignored'), {
    clusterName: 'REPLACE-WITH-THE-CLUSTER-NAME', distribution: 'generic', infrastructure: 'generic', nodeName: 'aks-nodepool1-12345678-vmss000000',
  });
});

test("the agent's own pods raise no Defender for Containers alert when the API server admits them", async () => {
  const ds = manifests().find((m) => m.doc.kind === 'DaemonSet')!.doc;
  const podSpec = ds.spec.template.spec;
  const event = {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: '0d4b7c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e',
    stage: 'ResponseComplete', requestURI: '/api/v1/namespaces/arcsim/pods', verb: 'create',
    user: { username: 'system:serviceaccount:kube-system:daemon-set-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
    sourceIPs: ['10.0.0.4'], userAgent: 'kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/a737599/system:serviceaccount:kube-system:daemon-set-controller',
    objectRef: { resource: 'pods', namespace: 'arcsim', name: 'arcsim-agent-7xk2p', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'arcsim-agent-7xk2p', namespace: 'arcsim' }, spec: podSpec },
    requestReceivedTimestamp: '2026-03-02T10:00:00.000000Z', stageTimestamp: '2026-03-02T10:00:00.004000Z',
  };
  const r = toKubernetesAuditRow(event, { cluster: 'lab' });
  assert.ok('row' in r, 'invalid' in r ? r.invalid : '');
  assert.deepEqual((await runOfflineDetection([r.row])).alerts.map((a) => a.alertType), []);
  // The same pod made privileged is caught: the check above could fail.
  const privileged = structuredClone(event);
  privileged.requestObject.spec.containers[0].securityContext = { ...privileged.requestObject.spec.containers[0].securityContext, privileged: true };
  const p = toKubernetesAuditRow(privileged, { cluster: 'lab' });
  assert.ok('row' in p);
  assert.deepEqual((await runOfflineDetection([p.row])).alerts.map((a) => a.alertType), ['K8S_PrivilegedContainer']);
});
