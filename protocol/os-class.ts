import type { MachineFacts } from './messages.ts';

/** The operating-system families scenarios and extensions are written for. */
export type MachineOsFamily = 'windows' | 'linux' | 'macos' | 'other';

type OsFacts = Pick<MachineFacts, 'osName' | 'osType' | 'osSku' | 'osEdition' | 'osVersion'>;

/** The machine's OS family, from Arc's `osType` (or `osName`): `windows`, `linux`, `macos` (darwin), else `other`. */
export function machineOsFamily(facts: OsFacts): MachineOsFamily {
  const t = `${facts.osType ?? ''} ${facts.osName ?? ''}`.toLowerCase();
  if (t.includes('windows')) return 'windows';
  if (t.includes('linux')) return 'linux';
  if (t.includes('darwin') || t.includes('mac')) return 'macos';
  return 'other';
}

/**
 * Windows builds that exist only as a server release: 20348 is Windows Server 2022 (Windows 10
 * 21H2 is 19044, Windows 11 21H2 is 22000). Server 2016 (14393), 2019 (17763) and 2025 (26100)
 * share their build with a client release, so the build alone does not tell them apart.
 */
const SERVER_ONLY_WINDOWS_BUILDS = new Set(['20348']);

/**
 * Whether MDE counts the machine as a server, which decides whether its alerts reach Defender for
 * Cloud ("only server OS-related alerts are synced from MDE to MDC"). Windows: the product name
 * (`osSku`, `osEdition` or `osName`, e.g. "Windows Server 2022 Datacenter" vs "Windows 11 Pro")
 * names a Server edition; without a product name, a server-only build number. Linux: a server —
 * Defender for Endpoint on Linux is the server offering (Defender for Servers onboards it; there
 * is no Linux client SKU). macOS and anything unknown: not a server.
 */
export function isServerOs(facts: OsFacts): boolean {
  const family = machineOsFamily(facts);
  if (family === 'linux') return true;
  if (family !== 'windows') return false;
  const names = [facts.osSku, facts.osEdition, facts.osName].filter((n): n is string => !!n && n.toLowerCase() !== 'windows');
  // "Windows Server 2022 Datacenter"; Arc's osEdition reads "ServerDatacenter".
  if (names.length) return names.some((n) => /server/i.test(n));
  const build = /^\d+\.\d+\.(\d+)/.exec(facts.osVersion ?? '')?.[1];
  return build !== undefined && SERVER_ONLY_WINDOWS_BUILDS.has(build);
}
