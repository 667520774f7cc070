import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeAssets, isEc2VmUuid } from '../../control-plane/inventory/asset-merge.ts';
import { cspmResourceId, parseSnapshot } from '../../control-plane/inventory/snapshot-formats.ts';
import type { ConnectorRow, CspmResourceRow, MachineRow } from '../../control-plane/store/index.ts';
import type { MachineFacts } from '../../protocol/index.ts';
import { TEST_FACTS } from '../helpers.ts';

/** The merge as a pure function over the shipped example snapshots and persona facts. */
const EX = join(import.meta.dirname, '..', '..', 'examples', 'cspm');
const json = (f: string) => JSON.parse(readFileSync(join(EX, f), 'utf8'));
const personas = json('persona-facts.json') as Record<string, MachineFacts>;

const aws: ConnectorRow = { name: 'aws-lab', provider: 'AWS', accountId: '123456789012', subscription: 'sub', resourceGroup: 'rg', location: 'eastus', config: {}, createdAt: 0, updatedAt: 0 };
const gcp: ConnectorRow = { ...aws, name: 'gcp-lab', provider: 'GCP', accountId: 'arcsim-lab-gcp' };

function resources(c: ConnectorRow, file: string, deleted: Record<string, number> = {}, patch?: (d: any) => void): CspmResourceRow[] {
  const doc = json(file);
  patch?.(doc);
  return parseSnapshot(doc, { region: 'us-east-1' }).resources.map((r) => ({
    connector: c.name, kind: r.kind, nativeId: r.nativeId, resourceId: cspmResourceId(c, r), name: r.name, region: r.region,
    state: r.state, data: r.data, firstSeen: 0, lastSeen: 0, deletedAt: deleted[r.nativeId] ?? null,
  }));
}

function machine(name: string, facts: MachineFacts, extra: Partial<MachineRow> = {}): MachineRow {
  return {
    agentId: `agent-${name}`, resourceId: `/subscriptions/sub/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/${name}`, name,
    facts, sqlInstances: [], extensions: [], status: 'Connected', lastHeartbeat: 0, lastStatusChange: 0, registeredAt: 0, tags: {}, ...extra,
  };
}

const ec2 = resources(aws, 'aws-describe-instances.json');
const gce = resources(gcp, 'gcp-instances.json');
const WEB = 'i-0a1b2c3d4e5f60718';
const byKey = (assets: ReturnType<typeof mergeAssets>, key: string) => assets.find((a) => a.assetKey === key);

test('strong key: the EC2 persona (account + instance id from IMDS) merges with its instance; others stay single', () => {
  const assets = mergeAssets({ machines: [machine('ip-10-0-1-23', personas['ec2-persona']!)], instances: ec2, connectors: [aws] });
  const a = byKey(assets, `aws/123456789012/${WEB}`)!;
  assert.equal(a.confidence, 'strong');
  assert.deepEqual(a.sources.map((s) => s.kind), ['arc', 'cspm']);
  assert.deepEqual(a.conflicts, []);
  assert.equal(assets.length, 3, 'three EC2 instances, one of them merged');
  assert.ok(assets.filter((x) => x !== a).every((x) => x.confidence === 'single' && x.sources.length === 1));
});

test('conflict: two agents claim one instance id -> nothing merged, the conflict on all three', () => {
  const facts = personas['ec2-persona']!;
  const assets = mergeAssets({ machines: [machine('web-a', facts), machine('web-b', { ...facts, hostname: 'web-b', vmUuid: 'ec2ffff0-0000-0000-0000-000000000000' })], instances: ec2, connectors: [aws] });
  const involved = assets.filter((a) => a.conflicts.some((c) => c.kind === 'duplicate-instance-claim'));
  assert.equal(involved.length, 3);
  assert.ok(involved.every((a) => a.sources.length === 1 && a.confidence === 'single'));
  assert.deepEqual(involved.map((a) => a.sources[0]!.kind).sort(), ['arc', 'arc', 'cspm']);
});

test('conflict: an agent whose instance id the cloud does not know -> its own asset, flagged instance-unknown-to-cloud', () => {
  const facts = { ...personas['ec2-persona']!, cloudMetadata: { provider: 'AWS', details: { accountId: '123456789012', instanceId: 'i-0fffffffffffffff0', region: 'us-east-1' } } };
  const assets = mergeAssets({ machines: [machine('ghost', facts)], instances: ec2, connectors: [aws] });
  const a = byKey(assets, 'aws/123456789012/i-0fffffffffffffff0')!;
  assert.deepEqual(a.sources.map((s) => s.kind), ['arc']);
  assert.equal(a.conflicts[0]!.kind, 'instance-unknown-to-cloud');
  // Without a connector for that account it is merely unmonitored, not a conflict.
  assert.deepEqual(byKey(mergeAssets({ machines: [machine('ghost', facts)], instances: [], connectors: [] }), 'aws/123456789012/i-0fffffffffffffff0')!.conflicts, []);
});

test('conflict: a stopped instance whose agent still reports -> merged, flagged instance-not-running', () => {
  const batch = { ...personas['ec2-persona']!, hostname: 'ip-10-0-1-50', cloudMetadata: { provider: 'AWS', details: { accountId: '123456789012', instanceId: 'i-0c3d4e5f607182930' } } };
  const assets = mergeAssets({ machines: [machine('batch', batch)], instances: ec2, connectors: [aws] });
  const a = byKey(assets, 'aws/123456789012/i-0c3d4e5f607182930')!;
  assert.equal(a.confidence, 'strong');
  assert.deepEqual(a.conflicts.map((c) => c.kind), ['instance-not-running']);
  // A Disconnected agent on a stopped instance is what one expects: no conflict.
  const quiet = mergeAssets({ machines: [machine('batch', batch, { status: 'Disconnected' })], instances: ec2, connectors: [aws] });
  assert.deepEqual(byKey(quiet, 'aws/123456789012/i-0c3d4e5f607182930')!.conflicts, []);
});

test('conflict: a deleted instance whose agent still reports -> merged, flagged instance-deleted', () => {
  const gone = resources(aws, 'aws-describe-instances.json', { [WEB]: Date.UTC(2026, 1, 1) });
  const assets = mergeAssets({ machines: [machine('web', personas['ec2-persona']!)], instances: gone, connectors: [aws] });
  const a = byKey(assets, `aws/123456789012/${WEB}`)!;
  assert.equal(a.sources.length, 2);
  assert.deepEqual(a.conflicts.map((c) => c.kind), ['instance-deleted']);
  assert.match(a.conflicts[0]!.message, /2026-02-01/);
});

test('conflict: a renamed GCP VM (same instance id, new name) -> still one asset, flagged instance-renamed', () => {
  const renamed = resources(gcp, 'gcp-instances.json', {}, (d) => { d[0].name = 'gcp-web-01-renamed'; });
  const assets = mergeAssets({ machines: [machine('gcp-web-01', personas['gcp-persona']!)], instances: renamed, connectors: [gcp] });
  const a = byKey(assets, 'gcp/arcsim-lab-gcp/4567890123456789012')!;
  assert.equal(a.confidence, 'strong');
  assert.equal(a.sources.length, 2);
  assert.deepEqual(a.conflicts.map((c) => c.kind), ['instance-renamed']);
  assert.match(a.conflicts[0]!.message, /gcp-web-01.*gcp-web-01-renamed/);
});

test('weak keys: hostname + private IP merge as probable (never silently); one key alone does not merge', () => {
  const noImds: MachineFacts = { ...TEST_FACTS, hostname: 'ip-10-0-1-23', vmUuid: '2C1B2AEC-3D4E-5F60-7180-0A1B2C3D4E5F', cloudMetadata: { provider: 'N/A' }, networkInterfaces: [{ name: 'eth0', ipAddresses: ['10.0.1.23/24'] }] };
  const a = byKey(mergeAssets({ machines: [machine('m', noImds)], instances: ec2, connectors: [aws] }), `aws/123456789012/${WEB}`)!;
  assert.equal(a.confidence, 'probable');
  assert.match(a.reasons[0]!, /hostname ip-10-0-1-23 and private IP 10\.0\.1\.23.*EC2 one/);
  // Same IP, other hostname: not merged; the EC2-shaped UUID is surfaced instead.
  const other = mergeAssets({ machines: [machine('m', { ...noImds, hostname: 'someone-else' })], instances: ec2, connectors: [aws] });
  const lone = other.find((x) => x.sources.some((s) => s.kind === 'arc'))!;
  assert.equal(lone.sources.length, 1);
  assert.equal(lone.conflicts[0]!.kind, 'unmatched-ec2-machine');
  // Two machines matching one instance weakly: ambiguous, not merged.
  const twice = mergeAssets({ machines: [machine('m1', noImds), machine('m2', { ...noImds, vmUuid: undefined })], instances: ec2, connectors: [aws] });
  assert.equal(twice.filter((x) => x.conflicts.some((c) => c.kind === 'ambiguous-weak-match')).length, 3);
});

test('MDC tags (AccountId/InstanceId, or MDFCSecurityConnector + InstanceId) are strong keys', () => {
  const bare: MachineFacts = { ...TEST_FACTS, cloudMetadata: { provider: 'N/A' } };
  const tagSets: Array<Record<string, string>> = [{ AccountId: '123456789012', InstanceId: WEB, Cloud: 'AWS' }, { MDFCSecurityConnector: 'aws-lab', InstanceId: WEB }];
  for (const tags of tagSets) {
    const a = byKey(mergeAssets({ machines: [machine('tagged', bare, { tags })], instances: ec2, connectors: [aws] }), `aws/123456789012/${WEB}`)!;
    assert.equal(a.confidence, 'strong', JSON.stringify(tags));
    assert.match(a.reasons[0]!, /MDC tags/);
  }
  const g = byKey(mergeAssets({ machines: [machine('g', bare, { tags: { MDFCSecurityConnector: 'gcp-lab', MachineId: '4567890123456789012', ProjectId: 'arcsim-lab-gcp' } })], instances: gce, connectors: [gcp] }), 'gcp/arcsim-lab-gcp/4567890123456789012')!;
  assert.equal(g.sources.length, 2);
});

test('merge is deterministic: shuffled inputs give byte-identical output; cloned UUIDs are flagged', () => {
  const ms = [machine('ip-10-0-1-23', personas['ec2-persona']!), machine('gcp-web-01', personas['gcp-persona']!), machine('lab', TEST_FACTS), machine('lab-clone', TEST_FACTS)];
  const input = { machines: ms, instances: [...ec2, ...gce], connectors: [aws, gcp] };
  const a = JSON.stringify(mergeAssets(input));
  const b = JSON.stringify(mergeAssets({ machines: [...ms].reverse(), instances: [...gce, ...ec2].reverse(), connectors: [gcp, aws] }));
  assert.equal(a, b);
  assert.equal(JSON.parse(a).filter((x: any) => x.conflicts.some((c: any) => c.kind === 'duplicate-vm-uuid')).length, 2);
  assert.equal(isEc2VmUuid('EC2A1B2C-0000-0000-0000-000000000000'), true);
  assert.equal(isEc2VmUuid('2c1b2aec-0000-0000-0000-000000000000'), true, 'byte-swapped form');
  assert.equal(isEc2VmUuid('4C4C4544-0042-3510-8052-B4C04F4B4E32'), false);
});
