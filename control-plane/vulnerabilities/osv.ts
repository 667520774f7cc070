import { z } from 'zod';
import { orderOf, type Compare } from './version-order.ts';

/**
 * Advisory feeds in the OSV format (https://ossf.github.io/osv-schema/, schema 1.x): what
 * `arcsim vuln import FILE` loads, offline. A feed file is a JSON array of OSV records, one
 * record, or an object with a `vulns` array (the shape of osv.dev's query replies). Only the
 * fields arcsim reads are checked; OSV's other fields (references, credits, ...) are kept out of
 * the store. Limits in `OSV_LIMITS`.
 */
export const OSV_LIMITS = {
  /** Largest feed file taken, bytes. */
  maxFeedBytes: 32 * 1024 * 1024,
  /** Most records in one feed. */
  maxRecords: 20_000,
  /** Most `affected` entries in one record. */
  maxAffected: 512,
  /** Most range events or listed versions in one affected entry. */
  maxVersions: 4096,
} as const;

const text = (max: number) => z.string().min(1).max(max);
const Event = z.union([
  z.strictObject({ introduced: text(256) }),
  z.strictObject({ fixed: text(256) }),
  z.strictObject({ last_affected: text(256) }),
  z.strictObject({ limit: text(256) }),
]);
const Range = z.object({
  type: z.enum(['ECOSYSTEM', 'SEMVER', 'GIT']),
  events: z.array(Event).min(1).max(OSV_LIMITS.maxVersions),
});
const Affected = z.object({
  package: z.object({ ecosystem: text(128), name: text(512), purl: z.string().max(1024).optional() }),
  ranges: z.array(Range).max(64).optional(),
  versions: z.array(text(256)).max(OSV_LIMITS.maxVersions).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});
/** The parts of an OSV record arcsim reads; other OSV fields are allowed and ignored. */
export const OsvRecordSchema = z.object({
  id: text(256),
  modified: z.iso.datetime({ offset: true }),
  published: z.iso.datetime({ offset: true }).optional(),
  withdrawn: z.iso.datetime({ offset: true }).optional(),
  aliases: z.array(text(256)).max(256).optional(),
  upstream: z.array(text(256)).max(256).optional(),
  summary: z.string().max(4096).optional(),
  severity: z.array(z.object({ type: z.string().max(32), score: z.string().max(256) })).max(16).optional(),
  affected: z.array(Affected).max(OSV_LIMITS.maxAffected).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});
export type OsvRecord = z.infer<typeof OsvRecordSchema>;
type OsvAffected = z.infer<typeof Affected>;

/** One advisory as arcsim keeps it: the OSV record's matching facts. */
export interface Advisory {
  id: string;
  modified: string;
  /** The CVE the advisory is about (`upstream` / `aliases` / the id), else the advisory id. */
  cveId: string;
  summary: string;
  /** MDVM's level (Low, Medium, High, Critical) where the feed gives one; '' when it gives none. */
  severity: string;
  affected: Array<{ ecosystem: string; name: string; ranges: Array<{ type: string; events: Array<Record<string, string>> }>; versions: string[] }>;
}

export interface FeedIssue { path: string; message: string }

/** A feed that cannot be read: not JSON, too large, or a record that is not OSV. */
export class OsvFeedError extends Error {
  constructor(message: string, readonly path: string) {
    super(message);
    this.name = 'OsvFeedError';
  }
}

const SEVERITY_WORDS: Record<string, string> = { LOW: 'Low', MODERATE: 'Medium', MEDIUM: 'Medium', HIGH: 'High', CRITICAL: 'Critical' };

function severityOf(r: OsvRecord): string {
  const word = (v: unknown) => (typeof v === 'string' ? SEVERITY_WORDS[v.toUpperCase()] : undefined);
  return word(r.database_specific?.severity) ?? r.affected?.map((a) => word(a.ecosystem_specific?.severity) ?? word(a.database_specific?.severity)).find(Boolean) ?? '';
}

function cveOf(r: OsvRecord): string {
  const ids = [...(r.upstream ?? []), ...(r.aliases ?? []), r.id, r.id.replace(/^DEBIAN-/, '')];
  return ids.find((i) => /^CVE-\d{4}-\d{4,}$/.test(i)) ?? r.id;
}

/** The advisory arcsim keeps of one OSV record. */
export function toAdvisory(r: OsvRecord): Advisory {
  return {
    id: r.id, modified: r.modified, cveId: cveOf(r), summary: r.summary ?? '', severity: severityOf(r),
    affected: (r.affected ?? []).map((a: OsvAffected) => ({
      ecosystem: a.package.ecosystem, name: a.package.name,
      ranges: (a.ranges ?? []).map((x) => ({ type: x.type, events: x.events as Array<Record<string, string>> })),
      versions: a.versions ?? [],
    })),
  };
}

/**
 * Reads a feed file's text. Withdrawn records are left out (counted in `withdrawn`). Throws an
 * OsvFeedError naming the path of the first record that is not OSV; nothing of a bad feed is kept.
 */
export function parseOsvFeed(body: string): { advisories: Advisory[]; withdrawn: number } {
  if (Buffer.byteLength(body) > OSV_LIMITS.maxFeedBytes) throw new OsvFeedError(`feed is larger than ${OSV_LIMITS.maxFeedBytes} bytes`, '(root)');
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    throw new OsvFeedError(`not JSON: ${(e as Error).message}`, '(root)');
  }
  return readOsvRecords(doc);
}

/** As parseOsvFeed, from the parsed JSON document. */
export function readOsvRecords(doc: unknown): { advisories: Advisory[]; withdrawn: number } {
  const list = Array.isArray(doc) ? doc
    : doc && typeof doc === 'object' && Array.isArray((doc as { vulns?: unknown }).vulns) ? (doc as { vulns: unknown[] }).vulns
    : [doc];
  const base = Array.isArray(doc) ? '' : doc && typeof doc === 'object' && 'vulns' in doc ? 'vulns' : '';
  if (list.length > OSV_LIMITS.maxRecords) throw new OsvFeedError(`feed has ${list.length} records; at most ${OSV_LIMITS.maxRecords}`, base || '(root)');
  const advisories: Advisory[] = [];
  let withdrawn = 0;
  for (const [i, raw] of list.entries()) {
    const r = OsvRecordSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const at = [base, Array.isArray(doc) || base ? String(i) : '', ...issue.path.map(String)].filter(Boolean).join('.');
      throw new OsvFeedError(`not an OSV record: ${issue.message}`, at || '(root)');
    }
    if (r.data.withdrawn) { withdrawn++; continue; }
    advisories.push(toAdvisory(r.data));
  }
  return { advisories, withdrawn };
}

/**
 * Whether `version` falls in one OSV range, by the evaluation the OSV schema specifies: events
 * sorted by version ("0" first); an `introduced` at or below the version opens the range, a
 * `fixed` or `limit` at or below closes it, a `last_affected` below closes it.
 */
export function inRange(version: string, events: Array<Record<string, string>>, compare: Compare): boolean {
  const key = (e: Record<string, string>) => Object.values(e)[0]!;
  const sorted = [...events].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === y) return 0;
    if (x === '0') return -1;
    if (y === '0') return 1;
    return compare(x, y);
  });
  let affected = false;
  for (const e of sorted) {
    if (e.introduced !== undefined) {
      if (e.introduced === '0' || compare(e.introduced, version) <= 0) affected = true;
    } else if (e.fixed !== undefined) {
      if (compare(e.fixed, version) <= 0) affected = false;
    } else if (e.limit !== undefined) {
      if (compare(e.limit, version) <= 0) affected = false;
    } else if (e.last_affected !== undefined) {
      if (compare(e.last_affected, version) < 0) affected = false;
    }
  }
  return affected;
}

/** A package as an ecosystem names it, at a version, as the installed software says. */
export interface PackageAtVersion { ecosystem: string; name: string; version: string }

/**
 * The advisories that affect the package, each with the version that fixes it (the lowest `fixed`
 * above the installed version, '' when none is published). An ecosystem with no known order is
 * never matched (undefined order), and a version its order cannot read matches nothing.
 */
export function affecting(p: PackageAtVersion, advisories: Advisory[]): Array<{ advisory: Advisory; fixed: string }> {
  const compare = orderOf(p.ecosystem);
  if (!compare) return [];
  try { compare(p.version, p.version); } catch { return []; } // a version the order cannot read
  const out: Array<{ advisory: Advisory; fixed: string }> = [];
  for (const adv of advisories) {
    for (const a of adv.affected) {
      if (a.ecosystem !== p.ecosystem || a.name !== p.name) continue;
      try {
        const hit = a.versions.includes(p.version) || a.ranges.some((r) => r.type !== 'GIT' && inRange(p.version, r.events, compare));
        if (!hit) continue;
        const fixes = a.ranges.flatMap((r) => r.events.map((e) => e.fixed).filter((f): f is string => f !== undefined))
          .filter((f) => compare(f, p.version) > 0).sort(compare);
        out.push({ advisory: adv, fixed: fixes[0] ?? '' });
        break;
      } catch {
        // A version the ecosystem's order cannot read (e.g. not semver for npm): not matched.
      }
    }
  }
  return out;
}
