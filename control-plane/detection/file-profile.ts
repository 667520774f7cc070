import type { SensorEvent } from '../../protocol/index.ts';

/**
 * File profiles: what the MDE model knows about a file, by its SHA1 (MDE's key; a recording made
 * without SHA1 hashes is matched by SHA256 or MD5), beyond the row of the event
 * that names it. MDE keeps a file's signer in DeviceFileCertificateInfo (one row per SHA1) and its
 * version information in the `*VersionInfo*` columns of the events where it ran as a process;
 * DeviceImageLoadEvents has neither for the module it loads. Sigma's image_load fields `Signed`,
 * `Signature`, `SignatureStatus`, `OriginalFileName`, `Description`, `Product`, `Company` are read
 * from here (mde.yaml: `transform: file_profile`), as the `FileProfile()` function of advanced
 * hunting enriches a row by SHA1.
 *
 * Streaming order: a profile is read when the event is matched, so the facts must arrive before
 * the event that needs them (the recorded-telemetry converter emits a Sysmon 7 event's
 * DeviceFileCertificateInfo row just before its DeviceImageLoadEvents row). A fact learnt later
 * does not re-run rules over earlier events.
 */
export interface FileProfile {
  /** DeviceFileCertificateInfo.IsSigned. */
  IsSigned?: boolean;
  /** DeviceFileCertificateInfo.Signer. */
  Signer?: string;
  /** DeviceFileCertificateInfo.IsTrusted (WinVerifyTrust's verdict). */
  IsTrusted?: boolean;
  /** Sysmon's SignatureStatus as recorded (arcsim extension: DeviceFileCertificateInfo.AdditionalFields). */
  SignatureStatus?: string;
  OriginalFileName?: string;
  FileDescription?: string;
  ProductName?: string;
  CompanyName?: string;
}

/** Limits of the profile cache, with units. */
export const FILE_PROFILE_LIMITS = {
  /** Entries kept per detection engine, count (one per hash a file is known by); the least recently changed is dropped past it. */
  maxProfiles: 100_000,
};

/** The key under which the detection engine hands an event's file profile to the field getters. */
export const FILE_PROFILE = Symbol('arcsim.fileProfile');

const text = (v: unknown): string | undefined => typeof v === 'string' && v !== '' && v !== '-' ? v : undefined;
const bool = (v: unknown): boolean | undefined => typeof v === 'boolean' ? v : undefined;

/** A JSON column's value as an object (the column holds the JSON value or its text); undefined otherwise. */
export function jsonObject(v: unknown): Record<string, unknown> | undefined {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  if (typeof v !== 'string' || !v.startsWith('{')) return undefined;
  try {
    const o: unknown = JSON.parse(v);
    return typeof o === 'object' && o !== null && !Array.isArray(o) ? o as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** The version-information columns of a row, per column prefix (names built once: a hot path). */
const VERSION_COLUMNS = {
  Process: ['ProcessVersionInfoOriginalFileName', 'ProcessVersionInfoFileDescription', 'ProcessVersionInfoProductName', 'ProcessVersionInfoCompanyName'],
  InitiatingProcess: ['InitiatingProcessVersionInfoOriginalFileName', 'InitiatingProcessVersionInfoFileDescription', 'InitiatingProcessVersionInfoProductName', 'InitiatingProcessVersionInfoCompanyName'],
} as const;

/** Version information a row states about a file, by column prefix (`Process` or `InitiatingProcess`). */
function versionInfo(e: Record<string, unknown>, prefix: 'Process' | 'InitiatingProcess'): FileProfile | undefined {
  const [original, description, product, company] = VERSION_COLUMNS[prefix];
  const o = e[original], d = e[description], p = e[product], c = e[company];
  if (o === undefined && d === undefined && p === undefined && c === undefined) return undefined;
  return { OriginalFileName: text(o), FileDescription: text(d), ProductName: text(p), CompanyName: text(c) };
}

export class FileProfiles {
  private readonly profiles = new Map<string, FileProfile>();

  constructor(private readonly max = FILE_PROFILE_LIMITS.maxProfiles) {}

  get size(): number {
    return this.profiles.size;
  }

  /** The profile of a file, by any of its hashes (any case). */
  get(hashes: Hashes): FileProfile | undefined {
    for (const algo of ALGOS) {
      const v = hashes[algo];
      if (typeof v !== 'string' || v.length !== HASH_LENGTH[algo]) continue;
      const p = this.profiles.get(v.toLowerCase());
      if (p) return p;
    }
    return undefined;
  }

  /** Learns what a row says about files: its certificate row, or the version info of a process it names. */
  observe(event: SensorEvent): void {
    const e = event as Record<string, unknown>;
    if (event.Table === 'DeviceFileCertificateInfo') {
      const more = jsonObject(e.AdditionalFields) ?? {};
      this.merge({ SHA1: e.SHA1, SHA256: more.SHA256, MD5: more.MD5 }, {
        IsSigned: bool(e.IsSigned), Signer: text(e.Signer), IsTrusted: bool(e.IsTrusted),
        SignatureStatus: text(more.SignatureStatus), OriginalFileName: text(more.OriginalFileName),
        FileDescription: text(more.Description), ProductName: text(more.Product), CompanyName: text(more.Company),
      });
      return;
    }
    const own = event.Table === 'DeviceProcessEvents' ? versionInfo(e, 'Process') : undefined;
    if (own) this.merge({ SHA1: e.SHA1, SHA256: e.SHA256, MD5: e.MD5 }, own);
    const initiating = versionInfo(e, 'InitiatingProcess');
    if (initiating) this.merge({ SHA1: e.InitiatingProcessSHA1, SHA256: e.InitiatingProcessSHA256, MD5: e.InitiatingProcessMD5 }, initiating);
  }

  /** Hands `event` the profile of its file (its SHA1, else SHA256, else MD5) for the field getters to read. */
  attach(event: SensorEvent): void {
    const e = event as Record<string, unknown>;
    const p = this.get({ SHA1: e.SHA1, SHA256: e.SHA256, MD5: e.MD5 });
    // Set or cleared every time: an event object seen by an earlier engine keeps nothing stale.
    const holder = event as unknown as Record<symbol, unknown>;
    if (p) holder[FILE_PROFILE] = p;
    else delete holder[FILE_PROFILE];
  }

  private merge(hashes: Hashes, facts: FileProfile): void {
    // Most rows state nothing new about a file: return before allocating anything.
    let keys: string[] | undefined;
    let old: FileProfile | undefined;
    let changed = false;
    for (const k in facts) {
      const v = facts[k as keyof FileProfile];
      if (v === undefined) continue;
      if (keys === undefined) {
        keys = keysOf(hashes);
        if (keys.length === 0) return;
        old = this.get(hashes);
      }
      if (old?.[k as keyof FileProfile] !== v) {
        changed = true;
        break;
      }
    }
    if (!changed || keys === undefined) return;
    const merged: FileProfile = { ...old };
    for (const k in facts) {
      const v = facts[k as keyof FileProfile];
      if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    }
    for (const key of keys) {
      this.profiles.delete(key); // re-inserted last: the map's order is least recently changed first
      this.profiles.set(key, merged);
    }
    while (this.profiles.size > this.max) this.profiles.delete(this.profiles.keys().next().value!);
  }
}

/** A file's hashes as a row gives them (any may be absent). */
interface Hashes { SHA1: unknown; SHA256: unknown; MD5: unknown }

const ALGOS = ['SHA1', 'SHA256', 'MD5'] as const;
const HASH_LENGTH = { SHA1: 40, SHA256: 64, MD5: 32 } as const;

/** Map keys of a file: each of its hashes of the right length, lower-case (the lengths tell the algorithms apart). */
function keysOf(h: Hashes): string[] {
  const out: string[] = [];
  for (const algo of ALGOS) {
    const v = h[algo];
    if (typeof v === 'string' && v.length === HASH_LENGTH[algo]) out.push(v.toLowerCase());
  }
  return out;
}

/**
 * Rebuilds profiles from the certificate rows kept in the store (the newest `max`), so a restarted
 * control plane still knows what those rows said. Version information learnt from process events
 * is not rebuilt: it comes back with the file's next process event.
 */
export async function primeFileProfiles(profiles: FileProfiles, events: { latestFileCertificates(limit: number): Promise<SensorEvent[]> }, max = FILE_PROFILE_LIMITS.maxProfiles): Promise<number> {
  const rows = await events.latestFileCertificates(max);
  for (const row of rows) profiles.observe(row);
  return rows.length;
}

/** The profile the engine handed to `event`, if any. */
export function profileOf(event: Record<string, unknown>): FileProfile | undefined {
  return (event as unknown as Record<symbol, FileProfile | undefined>)[FILE_PROFILE];
}
