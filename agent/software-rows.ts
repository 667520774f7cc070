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

/** One item as the readers give it, checked by hand (the service loads no zod). */
export function softwareItemOk(i: unknown): i is SoftwareItem {
  if (typeof i !== 'object' || i === null || Array.isArray(i)) return false;
  const x = i as Record<string, unknown>;
  return Object.keys(x).every((k) => ['name', 'version', 'vendor', 'ecosystem', 'sourceName', 'sourceVersion'].includes(k))
    && str(x.name, 512) && (x.name as string).length > 0 && str(x.version, 256) && (x.version as string).length > 0 && str(x.vendor, 256) && str(x.ecosystem, 128)
    && (x.sourceName === undefined || str(x.sourceName, 512)) && (x.sourceVersion === undefined || str(x.sourceVersion, 256));
}

/** `{items, notes}` as collectSoftware returns it, checked by hand. */
export function softwareReportOk(d: unknown): d is { items: SoftwareItem[]; notes: string[] } {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  const o = d as Record<string, unknown>;
  return Object.keys(o).every((k) => k === 'items' || k === 'notes') && Array.isArray(o.notes) && o.notes.every((n) => str(n, 4096))
    && Array.isArray(o.items) && o.items.length <= 4000 && o.items.every(softwareItemOk);
}

/**
 * A snapshot of the installed software as the agent service sends it: the digest first (an
 * unchanged host is decided without the items), then the items a slice at a time, so the service
 * never holds them all as objects (from the child, they stay the text it printed until asked for).
 */
export interface SoftwareSnapshot {
  digest: string;
  /** Items in the snapshot. */
  count: number;
  notes: string[];
  /** Items `from` .. `from + n - 1` (fewer at the end); throws when one of them is not a valid item. */
  items(from: number, n: number): SoftwareItem[];
}

/** A snapshot of items already in memory (the agent reading the software in its own process). */
export function snapshotOf(r: { items: SoftwareItem[]; notes: string[] }): SoftwareSnapshot {
  return { digest: softwareDigest(r.items), count: r.items.length, notes: r.notes, items: (from, n) => r.items.slice(from, from + n) };
}

/**
 * What `collect-software` prints: a header line `{"digest", "count", "notes"}`, then one line per
 * item, each the item as JSON.
 */
export function snapshotLines(r: { items: SoftwareItem[]; notes: string[] }): string {
  const header = JSON.stringify({ digest: softwareDigest(r.items), count: r.items.length, notes: r.notes });
  return [header, ...r.items.map((i) => JSON.stringify(i))].join('\n') + '\n';
}

/**
 * Reads `snapshotLines` output kept as bytes: the header is parsed and checked now, each item only
 * when `items` asks for it. Throws when the header is not one or the line count differs from it.
 */
export function parseSnapshotLines(out: Buffer): SoftwareSnapshot {
  const starts: number[] = [];
  for (let at = 0; at < out.length; ) {
    const end = out.indexOf(0x0a, at);
    if (end < 0) throw new Error('printed a software list whose last line is cut');
    starts.push(at);
    at = end + 1;
  }
  let header: unknown;
  try {
    header = JSON.parse(out.toString('utf8', 0, starts.length > 1 ? starts[1]! - 1 : out.length - 1));
  } catch {
    throw new Error('printed a software list without a valid header line');
  }
  const h = header as Record<string, unknown>;
  const ok = typeof header === 'object' && header !== null && !Array.isArray(header)
    && Object.keys(h).every((k) => k === 'digest' || k === 'count' || k === 'notes')
    && typeof h.digest === 'string' && /^[0-9a-f]{64}$/.test(h.digest)
    && Number.isSafeInteger(h.count) && (h.count as number) >= 0 && (h.count as number) <= 4000
    && Array.isArray(h.notes) && h.notes.every((n) => str(n, 4096));
  if (!ok) throw new Error('printed an invalid software list header');
  const count = h.count as number;
  if (starts.length !== count + 1) throw new Error(`printed ${starts.length - 1} software items, its header says ${count}`);
  return {
    digest: h.digest as string, count, notes: h.notes as string[],
    items: (from, n) => {
      const slice: SoftwareItem[] = [];
      for (let k = from; k < Math.min(count, from + n); k++) {
        const line = starts[k + 1]!;
        const end = k + 2 < starts.length ? starts[k + 2]! - 1 : out.length - 1;
        let item: unknown;
        try {
          item = JSON.parse(out.toString('utf8', line, end));
        } catch {
          item = undefined;
        }
        if (!softwareItemOk(item)) throw new Error(`printed an invalid software item (line ${k + 2})`);
        slice.push(item);
      }
      return slice;
    },
  };
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
 * control plane can tell a complete snapshot from one still arriving. `items` may be a slice of
 * the snapshot: `first` is the index of its first item in it, `total` the snapshot's item count.
 */
export function softwareRows(o: { deviceId: string; machine: MachineFacts; items: SoftwareItem[]; time: number; arch: string; first?: number; total?: number }): SensorEvent[] {
  const Timestamp = new Date(o.time).toISOString();
  const DeviceName = o.machine.machineFqdn ?? o.machine.hostname;
  const platform = o.machine.osType === 'linux' ? 'Linux' : o.machine.osType === 'windows' ? 'Windows' : o.machine.osType === 'darwin' ? 'macOS' : undefined;
  const first = o.first ?? 0;
  const total = o.total ?? o.items.length;
  return o.items.map((i, k) => {
    const n = first + k;
    const row: Record<string, unknown> = {
      Table: 'DeviceTvmSoftwareInventory', Timestamp, DeviceId: o.deviceId, DeviceName, ReportId: uuidv7({ msecs: o.time, seq: n }),
      SoftwareVendor: i.vendor, SoftwareName: i.name, SoftwareVersion: i.version,
      // The reference's value for software without a CPE; arcsim reads none from package databases.
      ProductCodeCpe: 'not available',
      AdditionalFields: {
        SnapshotRows: total,
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
