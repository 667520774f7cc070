import type { CspmResourceRow, MachineRow } from './store.ts';

/**
 * The keys the asset merge (control-plane/inventory/asset-merge.ts) can link two items by. Every
 * decision the merge takes about an item depends only on items that share one of these keys with
 * it, so the items linked to a machine through them, transitively, are all a change of that
 * machine can affect. A superset is safe (a larger component is merged); a missing key is not.
 *
 * - `id:<instance id>`: an instance's native id; a machine's instance id from IMDS / the metadata
 *   server or from the MDC tags (InstanceId, MachineId). Covers strong claims, the unique-id match
 *   of an AWS claim without an account, and two machines claiming one instance.
 * - `hostip:<short hostname>|<private IP>`: a weak match needs a hostname AND a private IP in
 *   common, so the two share at least one such pair.
 * - `uuid:<SMBIOS UUID>`: cloned machines (duplicate-vm-uuid).
 * - `arc:<resource id>`: machines whose assets would share a key.
 */

export const MERGE_INSTANCE_KINDS = new Set(['aws-ec2-instance', 'gcp-compute-instance']);

export const shortHost = (h: string): string => h.split('.')[0]!.toLowerCase();

export function machineHostnames(m: Pick<MachineRow, 'facts'>): Set<string> {
  const out = new Set([shortHost(m.facts.hostname)]);
  if (m.facts.machineFqdn) out.add(shortHost(m.facts.machineFqdn));
  return out;
}

export function machineIps(m: Pick<MachineRow, 'facts'>): Set<string> {
  const ips = (m.facts.networkInterfaces ?? []).flatMap((n) => n.ipAddresses).map((ip) => ip.replace(/\/\d+$/, ''));
  return new Set(ips.filter((ip) => !/^(127\.|::1$|fe80:|169\.254\.)/i.test(ip)));
}

const pairs = (hosts: Iterable<string>, ips: Iterable<string>): string[] =>
  [...hosts].flatMap((h) => [...ips].map((ip) => `hostip:${h}|${ip}`));

export function machineMergeKeys(m: Pick<MachineRow, 'resourceId' | 'facts' | 'tags'>): string[] {
  const keys = new Set<string>([`arc:${m.resourceId.toLowerCase()}`]);
  const d = m.facts.cloudMetadata.details ?? {};
  if (d.instanceId) keys.add(`id:${d.instanceId}`);
  const tags = m.tags ?? {};
  if (tags.InstanceId) keys.add(`id:${tags.InstanceId}`);
  if (tags.MachineId) keys.add(`id:${tags.MachineId}`);
  for (const k of pairs(machineHostnames(m), machineIps(m))) keys.add(k);
  if (m.facts.vmUuid) keys.add(`uuid:${m.facts.vmUuid.toLowerCase()}`);
  return [...keys].sort();
}

/** An EC2 / GCE instance's keys; other CSPM resources take no part in the merge (none). */
export function instanceMergeKeys(r: Pick<CspmResourceRow, 'kind' | 'nativeId' | 'data'>): string[] {
  if (!MERGE_INSTANCE_KINDS.has(r.kind)) return [];
  const hosts = (r.data.hostnames as string[] | undefined) ?? [];
  const ips = (r.data.privateIps as string[] | undefined) ?? [];
  return [...new Set([`id:${r.nativeId}`, ...pairs(hosts, ips)])].sort();
}
