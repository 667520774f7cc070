import { createHash } from 'node:crypto';
import type { AssetConflict, AssetRow, ConnectorRow, CspmResourceRow, MachineRow } from '../store/index.ts';

/**
 * Asset merge: which Arc machines and CSPM instances are one real machine. A pure function of
 * its inputs (sorted first), so every replica and every recomputation gives the same answer.
 *
 * 1. Strong keys: provider + account/project + instance id, claimed by a machine through what its
 *    agent read from IMDS/DMI (`cloudMetadata.details`) or through the tags MDC writes on
 *    machines it onboards (AWS `AccountId`+`InstanceId`, GCP `ProjectId`+`MachineId`, with
 *    `MDFCSecurityConnector` naming the connector when the account tag is missing).
 * 2. Weak keys, for what is left: hostname and private IP must both match, one-to-one; the merge is
 *    marked `probable`, never silent.
 * Conflicts are reported on the assets, never resolved by guessing (docs/inventory.md).
 */

export const INSTANCE_KINDS = new Set(['aws-ec2-instance', 'gcp-compute-instance']);
const RUNNING = new Set(['running', 'RUNNING']);

export interface MergeInput {
  machines: MachineRow[];
  /** CSPM instances (EC2 / GCE), deleted ones included. */
  instances: CspmResourceRow[];
  connectors: ConnectorRow[];
}

/** A stable short id for an asset key (used in URLs). */
export function assetIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 20);
}

/** True for an EC2 SMBIOS UUID: `ec2…`, in any case, or its byte-swapped form (first group reversed). */
export function isEc2VmUuid(uuid: string | undefined): boolean {
  if (!uuid) return false;
  const u = uuid.toLowerCase();
  if (u.startsWith('ec2')) return true;
  const first = u.split('-')[0] ?? '';
  return first.length === 8 && (first.match(/../g) ?? []).reverse().join('').startsWith('ec2');
}

export function cloudKey(provider: string, account: string, instanceId: string): string {
  return `${provider.toLowerCase()}/${account}/${instanceId}`;
}

function instanceKey(r: CspmResourceRow, connectors: Map<string, ConnectorRow>): string {
  const c = connectors.get(r.connector)!;
  return cloudKey(c.provider, c.accountId, r.nativeId);
}

const shortHost = (h: string) => h.split('.')[0]!.toLowerCase();

function machineHostnames(m: MachineRow): Set<string> {
  const out = new Set([shortHost(m.facts.hostname)]);
  if (m.facts.machineFqdn) out.add(shortHost(m.facts.machineFqdn));
  return out;
}

function machineIps(m: MachineRow): Set<string> {
  const ips = (m.facts.networkInterfaces ?? []).flatMap((n) => n.ipAddresses).map((ip) => ip.replace(/\/\d+$/, ''));
  return new Set(ips.filter((ip) => !/^(127\.|::1$|fe80:|169\.254\.)/i.test(ip)));
}

interface Claim {
  key: string;
  reason: string;
}

/** The instance identities a machine claims (usually one; more is itself a conflict). */
function claimsOf(m: MachineRow, connectors: ConnectorRow[], instancesById: Map<string, string[]>): Claim[] {
  const out = new Map<string, string>();
  const add = (key: string, reason: string) => { if (!out.has(key)) out.set(key, reason); };
  const provider = m.facts.cloudMetadata.provider.toUpperCase();
  const d = m.facts.cloudMetadata.details ?? {};
  if (provider === 'AWS' && d.instanceId) {
    if (d.accountId) add(cloudKey('AWS', d.accountId, d.instanceId), `agent reports AWS account ${d.accountId} and instance ${d.instanceId} (IMDS)`);
    else {
      // Instance ids are unique across AWS; without the account, a unique match still identifies it.
      const keys = (instancesById.get(d.instanceId) ?? []).filter((k) => k.startsWith('aws/'));
      if (keys.length === 1) add(keys[0]!, `agent reports instance ${d.instanceId} (no account id)`);
    }
  }
  if (provider === 'GCP' && d.instanceId && d.projectId) {
    add(cloudKey('GCP', d.projectId, d.instanceId), `agent reports GCP project ${d.projectId} and instance ${d.instanceId} (metadata server)`);
  }
  const tags = m.tags ?? {};
  const viaConnector = tags.MDFCSecurityConnector ? connectors.find((c) => c.name === tags.MDFCSecurityConnector) : undefined;
  if (tags.InstanceId) {
    const account = tags.AccountId ?? (viaConnector?.provider === 'AWS' ? viaConnector.accountId : undefined);
    if (account) add(cloudKey('AWS', account, tags.InstanceId), `MDC tags AccountId/InstanceId${tags.MDFCSecurityConnector ? '/MDFCSecurityConnector' : ''}`);
  }
  if (tags.MachineId) {
    const project = tags.ProjectId ?? (viaConnector?.provider === 'GCP' ? viaConnector.accountId : undefined);
    if (project) add(cloudKey('GCP', project, tags.MachineId), `MDC tags ProjectId/MachineId${tags.MDFCSecurityConnector ? '/MDFCSecurityConnector' : ''}`);
  }
  return [...out].map(([key, reason]) => ({ key, reason }));
}

interface Draft {
  key: string;
  confidence: AssetRow['confidence'];
  machines: MachineRow[];
  instances: CspmResourceRow[];
  reasons: string[];
  conflicts: AssetConflict[];
}

/** Computes the assets. `updatedAt` is left 0 for the caller to fill. */
export function mergeAssets(input: MergeInput): AssetRow[] {
  const machines = [...input.machines].sort((a, b) => a.resourceId.localeCompare(b.resourceId));
  const connectors = new Map(input.connectors.map((c) => [c.name, c]));
  const instances = input.instances
    .filter((r) => INSTANCE_KINDS.has(r.kind) && connectors.has(r.connector))
    .sort((a, b) => a.resourceId.localeCompare(b.resourceId));
  const instancesByKey = new Map<string, CspmResourceRow[]>();
  const instancesById = new Map<string, string[]>();
  for (const r of instances) {
    const key = instanceKey(r, connectors);
    instancesByKey.set(key, [...(instancesByKey.get(key) ?? []), r]);
    instancesById.set(r.nativeId, [...new Set([...(instancesById.get(r.nativeId) ?? []), key])]);
  }

  const drafts = new Map<string, Draft>();
  const draft = (key: string): Draft => {
    let d = drafts.get(key);
    if (!d) drafts.set(key, (d = { key, confidence: 'single', machines: [], instances: [], reasons: [], conflicts: [] }));
    return d;
  };
  const arcKey = (m: MachineRow) => `arc/${m.resourceId.toLowerCase()}`;
  const placedInstances = new Set<string>();
  const unclaimed: MachineRow[] = [];

  // 1. Strong keys.
  const claimants = new Map<string, Array<{ m: MachineRow; reason: string }>>();
  for (const m of machines) {
    const claims = claimsOf(m, input.connectors, instancesById);
    if (claims.length === 0) { unclaimed.push(m); continue; }
    if (claims.length > 1) {
      const d = draft(arcKey(m));
      d.machines.push(m);
      d.conflicts.push({
        kind: 'inconsistent-identity', sources: [m.resourceId],
        message: `the machine claims several instances (${claims.map((c) => c.key).join(', ')}): not merged`,
      });
      continue;
    }
    claimants.set(claims[0]!.key, [...(claimants.get(claims[0]!.key) ?? []), { m, reason: claims[0]!.reason }]);
  }
  for (const [key, list] of [...claimants].sort(([a], [b]) => a.localeCompare(b))) {
    const insts = instancesByKey.get(key) ?? [];
    if (list.length > 1) {
      // Two agents claim one instance (a cloned image, a copied identity): merge neither.
      const ids = [...list.map((x) => x.m.resourceId), ...insts.map((r) => r.resourceId)];
      const conflict: AssetConflict = {
        kind: 'duplicate-instance-claim', sources: ids,
        message: `${list.length} Arc machines claim instance ${key}: none is merged until one is removed or re-identified`,
      };
      for (const { m } of list) {
        const d = draft(arcKey(m));
        d.machines.push(m);
        d.conflicts.push(conflict);
      }
      if (insts.length) {
        const d = draft(key);
        d.instances.push(...insts);
        d.conflicts.push(conflict);
        insts.forEach((r) => placedInstances.add(r.resourceId));
      }
      continue;
    }
    const { m, reason } = list[0]!;
    const d = draft(key);
    d.machines.push(m);
    if (insts.length === 0) {
      const [provider, account] = key.split('/');
      const owner = input.connectors.find((c) => c.provider.toLowerCase() === provider && c.accountId === account);
      if (owner) {
        d.conflicts.push({
          kind: 'instance-unknown-to-cloud', sources: [m.resourceId],
          message: `the agent reports ${key}, which connector ${owner.name} does not know`,
        });
      }
      continue;
    }
    d.instances.push(...insts);
    insts.forEach((r) => placedInstances.add(r.resourceId));
    d.confidence = 'strong';
    d.reasons.push(reason);
    if (insts.length > 1) d.reasons.push(`the instance is seen by connectors ${insts.map((r) => r.connector).join(', ')}`);
    const live = insts.filter((r) => r.deletedAt === null);
    const reporting = m.status === 'Connected';
    if (live.length === 0 && reporting) {
      d.conflicts.push({
        kind: 'instance-deleted', sources: [m.resourceId, ...insts.map((r) => r.resourceId)],
        message: `the cloud no longer lists ${key} (deleted ${new Date(Math.max(...insts.map((r) => r.deletedAt!))).toISOString()}) but its agent still reports`,
      });
    } else if (live.length && !live.some((r) => RUNNING.has(r.state)) && reporting) {
      d.conflicts.push({
        kind: 'instance-not-running', sources: [m.resourceId, ...live.map((r) => r.resourceId)],
        message: `the cloud says ${key} is ${live[0]!.state} but its agent still reports`,
      });
    }
    const reportedName = m.facts.cloudMetadata.details?.instanceName ?? m.tags?.InstanceName;
    const cloudName = (live[0] ?? insts[0]!).name;
    if (key.startsWith('gcp/') && reportedName && reportedName !== cloudName) {
      d.conflicts.push({
        kind: 'instance-renamed', sources: [m.resourceId, ...insts.map((r) => r.resourceId)],
        message: `the agent reports instance name ${reportedName}, the cloud now calls ${key} ${cloudName}: merged by instance id`,
      });
    }
  }

  // 2. Weak keys (hostname AND private IP), one-to-one only, for what strong keys left.
  const open = instances.filter((r) => !placedInstances.has(r.resourceId) && r.deletedAt === null);
  const candidates = new Map<string, CspmResourceRow[]>();
  const reverse = new Map<string, MachineRow[]>();
  for (const m of unclaimed) {
    const hosts = machineHostnames(m);
    const ips = machineIps(m);
    for (const r of open) {
      const rh = (r.data.hostnames as string[] | undefined) ?? [];
      const ri = (r.data.privateIps as string[] | undefined) ?? [];
      if (rh.some((h) => hosts.has(h)) && ri.some((ip) => ips.has(ip))) {
        candidates.set(m.resourceId, [...(candidates.get(m.resourceId) ?? []), r]);
        reverse.set(r.resourceId, [...(reverse.get(r.resourceId) ?? []), m]);
      }
    }
  }
  for (const m of unclaimed) {
    const cands = candidates.get(m.resourceId) ?? [];
    const unique = cands.length === 1 && reverse.get(cands[0]!.resourceId)!.length === 1;
    if (unique) {
      const r = cands[0]!;
      const d = draft(instanceKey(r, connectors));
      d.machines.push(m);
      d.instances.push(r);
      placedInstances.add(r.resourceId);
      d.confidence = 'probable';
      const ip = ((r.data.privateIps as string[]) ?? []).find((x) => machineIps(m).has(x));
      d.reasons.push(`weak keys: hostname ${shortHost(m.facts.hostname)} and private IP ${ip} match ${r.name}` +
        (isEc2VmUuid(m.facts.vmUuid) && r.kind === 'aws-ec2-instance' ? '; the SMBIOS UUID is an EC2 one' : '') +
        ' (no instance id from the agent)');
      continue;
    }
    const d = draft(arcKey(m));
    d.machines.push(m);
    if (cands.length > 0) {
      const all = [...new Set([...cands.flatMap((r) => reverse.get(r.resourceId)!.map((x) => x.resourceId)), ...cands.map((r) => r.resourceId)])].sort();
      d.conflicts.push({ kind: 'ambiguous-weak-match', sources: all, message: `hostname + private IP match several machines or instances: not merged` });
    } else if (isEc2VmUuid(m.facts.vmUuid) && input.connectors.some((c) => c.provider === 'AWS')) {
      d.conflicts.push({
        kind: 'unmatched-ec2-machine', sources: [m.resourceId],
        message: `the SMBIOS UUID ${m.facts.vmUuid} is an EC2 one but no AWS connector's instance matches this machine`,
      });
    }
  }
  for (const r of instances) {
    if (placedInstances.has(r.resourceId)) continue;
    const d = draft(instanceKey(r, connectors));
    d.instances.push(r);
    const rivals = reverse.get(r.resourceId);
    if (rivals && rivals.length > 0) {
      d.conflicts.push({ kind: 'ambiguous-weak-match', sources: [r.resourceId, ...rivals.map((m) => m.resourceId)].sort(), message: `hostname + private IP match several machines: not merged` });
    }
  }

  // Cloned machines share an SMBIOS UUID (the most repeated identity complaint of agent fleets).
  const byUuid = new Map<string, MachineRow[]>();
  for (const m of machines) if (m.facts.vmUuid) byUuid.set(m.facts.vmUuid.toLowerCase(), [...(byUuid.get(m.facts.vmUuid.toLowerCase()) ?? []), m]);
  for (const [uuid, list] of byUuid) {
    if (list.length < 2) continue;
    const conflict: AssetConflict = { kind: 'duplicate-vm-uuid', sources: list.map((m) => m.resourceId), message: `${list.length} Arc machines share SMBIOS UUID ${uuid} (cloned image?)` };
    for (const d of drafts.values()) if (d.machines.some((m) => list.includes(m))) d.conflicts.push(conflict);
  }

  return [...drafts.values()]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((d) => ({
      assetId: assetIdOf(d.key),
      assetKey: d.key,
      confidence: d.machines.length && d.instances.length ? d.confidence : 'single',
      conflicts: d.conflicts,
      reasons: d.reasons,
      updatedAt: 0,
      sources: [
        ...d.machines.map((m) => ({ kind: 'arc' as const, id: m.resourceId })),
        ...d.instances.map((r) => ({ kind: 'cspm' as const, id: r.resourceId })),
      ],
    }));
}
