import { arch as osArch, networkInterfaces as osNetworkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import type { MachineFacts, SensorEvent } from '../protocol/index.ts';
import type { ExtensionState } from './extension-state.ts';

/**
 * The MDE state tables from the host's facts: one `DeviceInfo` row for the device and one
 * `DeviceNetworkInfo` row per network adapter, as the MDE sensor reports them. Every value comes
 * from what the agent read on the host (its inventory, the cloud metadata service); a fact the
 * agent could not read is left out, never invented.
 */
export interface DeviceStateInput {
  /** The agent id: arcsim's DeviceId. */
  deviceId: string;
  machine: MachineFacts;
  /** Extensions as the control plane last set them: an MDE extension in state Succeeded means onboarded. */
  extensions: ExtensionState[];
  /** Event time, ms since the epoch. */
  time: number;
  /** Host facts read at send time (the OS architecture, each address's subnet prefix); default: this host's. */
  host?: { arch: string; interfaces: ReturnType<typeof osNetworkInterfaces> };
}

/** Node's `os.arch()` -> the OS architecture as MDE writes it (uncertain for the rarer ones). */
const ARCHITECTURES: Record<string, string> = { x64: '64-bit', ia32: '32-bit', arm64: 'ARM64', arm: 'ARM' };

/** MDE's OSPlatform: Windows per release (Windows10, WindowsServer2022, ...), `Linux`, `macOS`. */
function osPlatform(m: MachineFacts): string | undefined {
  if (m.osType === 'linux') return 'Linux';
  if (m.osType === 'darwin') return 'macOS';
  if (m.osType !== 'windows') return undefined;
  const sku = m.osSku ?? '';
  const server = /Server (\d{4})/.exec(sku);
  if (server) return `WindowsServer${server[1]}`;
  const client = /Windows (\d+)/.exec(sku);
  return client ? `Windows${client[1]}` : undefined;
}

/** The IP address space MDE names in `IPAddresses[].AddressType`. */
export function addressType(ip: string): string {
  const v = isIP(ip);
  const a = ip.toLowerCase();
  if (v === 4) {
    const [x, y] = ip.split('.').map(Number) as [number, number];
    if (x === 127) return 'Loopback';
    if (x === 169 && y === 254) return 'LinkLocal';
    if (x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 100 && y >= 64 && y <= 127)) return 'Private';
    return 'Public';
  }
  if (a === '::1') return 'Loopback';
  if (/^fe[89ab]/.test(a)) return 'LinkLocal';
  if (/^f[cd]/.test(a)) return 'Private';
  return 'Public';
}

/** A MAC address as Windows' PhysicalAddress writes it (upper-case hex, no separators). */
export function mdeMac(mac: string): string {
  return mac.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

function cloudResourceFields(m: MachineFacts): Record<string, string> {
  const d = m.cloudMetadata.details ?? {};
  if (m.cloudMetadata.provider === 'AWS' && d.region && d.accountId && d.instanceId) {
    return { AwsResourceName: `arn:aws:ec2:${d.region}:${d.accountId}:instance/${d.instanceId}` };
  }
  if (m.cloudMetadata.provider === 'GCP' && d.projectId && d.zone && d.instanceId) {
    return { GcpFullResourceName: `//compute.googleapis.com/projects/${d.projectId}/zones/${d.zone}/instances/${d.instanceId}` };
  }
  return {};
}

/** The DeviceInfo row and the DeviceNetworkInfo rows (one per adapter) for the host's facts. */
export function deviceStateRows(input: DeviceStateInput): SensorEvent[] {
  const { machine: m, deviceId, time } = input;
  const host = input.host ?? { arch: osArch(), interfaces: osNetworkInterfaces() };
  const Timestamp = new Date(time).toISOString();
  const DeviceName = m.machineFqdn ?? m.hostname;
  const onboarded = input.extensions.some((e) => (e.name === 'MDE.Linux' || e.name === 'MDE.Windows') && e.status === 'Succeeded');
  const info: Record<string, unknown> = {
    Table: 'DeviceInfo', Timestamp, DeviceId: deviceId, DeviceName, ReportId: uuidv7({ msecs: time }),
    ClientVersion: m.agentVersion,
    OnboardingStatus: onboarded ? 'Onboarded' : 'Can be onboarded',
    DeviceCategory: 'Endpoint',
  };
  const put = (column: string, value: string | number | undefined) => { if (value !== undefined && value !== '') info[column] = value; };
  put('OSPlatform', osPlatform(m));
  put('OSArchitecture', ARCHITECTURES[host.arch]);
  put('OSVersion', m.osVersion);
  if (m.osType === 'windows') {
    const build = /^\d+\.\d+\.(\d+)/.exec(m.osVersion ?? '');
    if (build) put('OSBuild', Number(build[1]));
  }
  if (m.osType === 'linux') put('OSDistribution', m.osSku?.split(' ')[0]);
  put('OSVersionInfo', m.osSku);
  put('Vendor', m.detectedProperties.manufacturer);
  put('Model', m.detectedProperties.model);
  if (onboarded) put('SensorHealthState', 'Active');
  Object.assign(info, cloudResourceFields(m));

  const prefixes = new Map<string, number>();
  for (const addrs of Object.values(host.interfaces)) {
    for (const a of addrs ?? []) if (a.cidr) prefixes.set(a.address, Number(a.cidr.slice(a.cidr.lastIndexOf('/') + 1)));
  }
  const rows: SensorEvent[] = [info as SensorEvent];
  for (const [i, nic] of (m.networkInterfaces ?? []).entries()) {
    const row: Record<string, unknown> = {
      Table: 'DeviceNetworkInfo', Timestamp, DeviceId: deviceId, DeviceName, ReportId: uuidv7({ msecs: time + i + 1 }),
      NetworkAdapterName: nic.name,
      // Node lists only adapters that are up and running (libuv skips the others).
      NetworkAdapterStatus: 'Up',
      IPAddresses: nic.ipAddresses.map((raw) => {
        const [ip, given] = raw.split('/') as [string, string | undefined];
        const prefix = given !== undefined ? Number(given) : prefixes.get(ip);
        return { IPAddress: ip, ...(prefix !== undefined ? { SubnetPrefix: prefix } : {}), AddressType: addressType(ip) };
      }),
    };
    if (nic.macAddress) row.MacAddress = mdeMac(nic.macAddress);
    rows.push(row as SensorEvent);
  }
  return rows;
}

/** What the rows say, without their time and ids: equal fingerprints mean nothing changed. */
export function deviceStateFingerprint(rows: SensorEvent[]): string {
  return JSON.stringify(rows.map(({ Timestamp: _t, ReportId: _r, ...rest }) => rest));
}
