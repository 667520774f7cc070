import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { collectInventory, loadPersona } from '../../agent/index.ts';
import { encodeRegister, machineFactsOk } from '../../agent/idle-decoder.ts';
import { encodeFrame, MachineFactsSchema } from '../../protocol/messages.ts';
import { cleanup, tempDir, TEST_FACTS } from '../helpers.ts';

/** An agent on a Kubernetes node (the DaemonSet of deploy/kubernetes/, or a cluster persona) reports its cluster. */
const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'personas');
const noProcesses = { processes: async () => [], listeners: async () => [] };

test('the agent config names the cluster; the node name is NODE_NAME (downward API), else the host name', async (t) => {
  const root = tempDir('arcsim-k8s-');
  mkdirSync(join(root, 'sys'), { recursive: true });
  t.after(() => cleanup(root));
  const k = { clusterName: 'onprem-k3s', distribution: 'k3s', infrastructure: 'generic' };
  const inv = await collectInventory({ sysRoot: root, kubernetes: k, env: { NODE_NAME: 'worker-2' }, ...noProcesses });
  assert.deepEqual(inv.machine.kubernetes, { ...k, nodeName: 'worker-2' });
  assert.ok(inv.notes.some((n) => /Kubernetes node worker-2 of cluster onprem-k3s/.test(n)));
  const bare = await collectInventory({ sysRoot: root, kubernetes: k, env: {}, ...noProcesses });
  assert.equal(bare.machine.kubernetes!.nodeName, bare.machine.hostname.toLowerCase());
  assert.equal((await collectInventory({ sysRoot: root, env: { NODE_NAME: 'worker-2' }, ...noProcesses })).machine.kubernetes, undefined, 'no cluster configured: not a node');
});

test('the EKS node persona reports its cluster, and its register frame is the one zod would write', () => {
  const p = loadPersona(join(EXAMPLES, 'eks-node.yaml'));
  assert.deepEqual(p.kubernetes, { clusterName: 'eks-lab', nodeName: 'ip-10-0-3-17.ec2.internal', distribution: 'eks', infrastructure: 'aws', kubernetesVersion: 'v1.30.4-eks-a737599' });
  const machine = { ...TEST_FACTS, kubernetes: p.kubernetes };
  assert.equal(machineFactsOk(machine), true);
  assert.equal(encodeRegister({ machine, sqlInstances: [] }), encodeFrame('register', { machine, sqlInstances: [] }));
});

test('bad cluster facts are refused by the hand check and by the schema, naming the field', () => {
  for (const [kubernetes, path] of [
    [{ clusterName: 'eks lab', nodeName: 'n1' }, 'clusterName'],
    [{ clusterName: 'eks-lab', nodeName: 'Node_1' }, 'nodeName'],
    [{ clusterName: 'x'.repeat(64), nodeName: 'n1' }, 'clusterName'],
    [{ clusterName: 'eks-lab', nodeName: 'n1', region: 'us-east-1' }, ''],
  ] as const) {
    const machine = { ...TEST_FACTS, kubernetes };
    assert.equal(machineFactsOk(machine), false, JSON.stringify(kubernetes));
    const r = MachineFactsSchema.safeParse(machine);
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path.slice(0, 2), path ? ['kubernetes', path] : ['kubernetes']);
  }
});
