import type { MachineFacts } from '../../protocol/index.ts';

const macsOf = (f: MachineFacts): Set<string> =>
  new Set((f.networkInterfaces ?? []).map((n) => n.macAddress?.toLowerCase()).filter((m): m is string => !!m && m !== '00:00:00:00:00:00'));

/**
 * The facts that tell two hosts apart, compared between the live connection of an identity
 * and a newcomer: a different hostname, a different SMBIOS UUID (when both know it), or MAC
 * address sets with nothing in common (when both have some). An empty list means "same host":
 * a reconnect, not a clone. Facts a side cannot read never count as a difference.
 */
export function hostDifferences(live: MachineFacts, newcomer: MachineFacts): string[] {
  const out: string[] = [];
  if (live.hostname.toLowerCase() !== newcomer.hostname.toLowerCase()) out.push('hostname');
  if (live.vmUuid && newcomer.vmUuid && live.vmUuid.toUpperCase() !== newcomer.vmUuid.toUpperCase()) out.push('vmUuid');
  const a = macsOf(live);
  const b = macsOf(newcomer);
  if (a.size > 0 && b.size > 0 && ![...a].some((m) => b.has(m))) out.push('macAddresses');
  return out;
}
