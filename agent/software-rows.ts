import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
// Types only: an idle agent never evaluates zod (agent/idle-decoder.ts).
import type { MachineFacts } from '../protocol/messages.ts';
import type { SensorEvent } from '../protocol/events.ts';

/**
 * The software snapshot as the agent service handles it, kept small and free of the readers
 * (agent/software-inventory.ts, the bundle's cold part, run in a child process by the service):
 * the item shape, its hand check, the digest and the DeviceTvmSoftwareInventory rows.
 */
export interface SoftwareItem {
  name: string;
  version: string;
  vendor: string;
  /** The OSV ecosystem the version belongs to (`Debian:12`, `npm`, ...); '' when none is known. */
  ecosystem: string;
  /** The source package an advisory names (dpkg's `Source:`, rpm's source RPM name), when it differs. */
  sourceName?: string;
  sourceVersion?: string;
}

const str = (v: unknown, max: number) => typeof v === 'string' && v.length <= max;

/** What `collect-software` prints, checked by hand (the service loads no zod): `{items, notes}`. */
export function softwareReportOk(d: unknown): d is { items: SoftwareItem[]; notes: string[] } {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  const o = d as Record<string, unknown>;
  return Object.keys(o).every((k) => k === 'items' || k === 'notes') && Array.isArray(o.notes) && o.notes.every((n) => str(n, 4096))
    && Array.isArray(o.items) && o.items.length <= 4000 && o.items.every((i) => {
      if (typeof i !== 'object' || i === null) return false;
      const x = i as Record<string, unknown>;
      return Object.keys(x).every((k) => ['name', 'version', 'vendor', 'ecosystem', 'sourceName', 'sourceVersion'].includes(k))
        && str(x.name, 512) && (x.name as string).length > 0 && str(x.version, 256) && (x.version as string).length > 0 && str(x.vendor, 256) && str(x.ecosystem, 128)
        && (x.sourceName === undefined || str(x.sourceName, 512)) && (x.sourceVersion === undefined || str(x.sourceVersion, 256));
    });
}

/** What the items say: equal digests mean the installed software did not change. */
export function softwareDigest(items: SoftwareItem[]): string {
  const h = createHash('sha256');
  for (const i of items) h.update(`${i.name}\u0000${i.version}\u0000${i.vendor}\u0000${i.ecosystem}\u0000${i.sourceName ?? ''}\u0000${i.sourceVersion ?? ''}\n`);
  return h.digest('hex');
}

const ARCHITECTURES: Record<string, string> = { x64: '64-bit', ia32: '32-bit', arm64: 'ARM64', arm: 'ARM' };

/**
 * One DeviceTvmSoftwareInventory row per item, all with the same Timestamp (one snapshot).
 * `AdditionalFields` (arcsim's extension) carries what matching needs beyond MDE's columns: the
 * OSV ecosystem, the source package and version, and how many rows the snapshot has, so the
 * control plane can tell a complete snapshot from one still arriving.
 */
export function softwareRows(o: { deviceId: string; machine: MachineFacts; items: SoftwareItem[]; time: number; arch: string; from?: number; count?: number }): SensorEvent[] {
  const Timestamp = new Date(o.time).toISOString();
  const DeviceName = o.machine.machineFqdn ?? o.machine.hostname;
  const platform = o.machine.osType === 'linux' ? 'Linux' : o.machine.osType === 'windows' ? 'Windows' : o.machine.osType === 'darwin' ? 'macOS' : undefined;
  const from = o.from ?? 0;
  return o.items.slice(from, from + (o.count ?? o.items.length)).map((i, k) => {
    const n = from + k;
    const row: Record<string, unknown> = {
      Table: 'DeviceTvmSoftwareInventory', Timestamp, DeviceId: o.deviceId, DeviceName, ReportId: uuidv7({ msecs: o.time, seq: n }),
      SoftwareVendor: i.vendor, SoftwareName: i.name, SoftwareVersion: i.version,
      // The reference's value for software without a CPE; arcsim reads none from package databases.
      ProductCodeCpe: 'not available',
      AdditionalFields: {
        SnapshotRows: o.items.length,
        ...(i.ecosystem ? { Ecosystem: i.ecosystem } : {}),
        ...(i.sourceName ? { SourceName: i.sourceName, SourceVersion: i.sourceVersion ?? i.version } : {}),
      },
    };
    if (platform) row.OSPlatform = platform;
    if (o.machine.osVersion) row.OSVersion = o.machine.osVersion;
    if (ARCHITECTURES[o.arch]) row.OSArchitecture = ARCHITECTURES[o.arch];
    return row as SensorEvent;
  });
}
