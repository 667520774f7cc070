import type { SensorEvent } from '../../protocol/index.ts';
import { parseResourceId } from '../../protocol/resource-ids.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AssessmentRow, MachineRow, Store } from '../store/index.ts';
import { diffAssessments, RECOMMENDATIONS, type Assessment } from '../inventory/recommendations.ts';
import { affecting, parseOsvFeed, type Advisory } from './osv.ts';

/** The MDE table whose rows make a machine's software snapshot. */
export const SOFTWARE_TABLE = 'DeviceTvmSoftwareInventory';

/** Limits and timings of the vulnerability assessment, one object, units beside. */
export const VULN_DEFAULTS = {
  /** After an agent's events arrive, wait this long before looking for a new software snapshot, ms. */
  debounceMs: 2000,
  /** Most DeviceTvmSoftwareInventory rows read back for one device (a few snapshots' worth). */
  maxSnapshotScanRows: 60_000,
  /** Most CVE ids listed in one machine's assessment details (all are in the findings). */
  maxCvesInDetails: 50,
} as const;

/** One installed item of a device's latest complete software snapshot. */
export interface InstalledItem {
  deviceId: string;
  row: SensorEvent;
  name: string;
  version: string;
  vendor: string;
  ecosystem: string;
  sourceName: string;
  sourceVersion: string;
}

/** One DeviceTvmSoftwareVulnerabilities row (the reference's columns, pinned in test/fixtures/mde-schema/). */
export interface VulnerabilityRow {
  DeviceId: string;
  DeviceName: string;
  OSPlatform: string;
  OSVersion: string;
  OSArchitecture: string;
  SoftwareVendor: string;
  SoftwareName: string;
  SoftwareVersion: string;
  CveId: string;
  VulnerabilitySeverityLevel: string;
  RecommendedSecurityUpdate: string;
  RecommendedSecurityUpdateId: string;
  CveTags: string[];
}

const fields = (r: SensorEvent): Record<string, unknown> => {
  const a = (r as { AdditionalFields?: unknown }).AdditionalFields;
  if (typeof a === 'string') { try { return JSON.parse(a) as Record<string, unknown>; } catch { return {}; } }
  return a && typeof a === 'object' && !Array.isArray(a) ? a as Record<string, unknown> : {};
};

/**
 * The newest complete DeviceTvmSoftwareInventory snapshot of a device: rows sharing one Timestamp,
 * as many as the snapshot says it has (`AdditionalFields.SnapshotRows`). A snapshot still
 * arriving (fewer rows) is passed over for the one before it.
 */
export async function latestSoftware(store: Pick<Store, 'events'>, deviceId: string, maxRows: number = VULN_DEFAULTS.maxSnapshotScanRows): Promise<InstalledItem[] | undefined> {
  const rows = await store.events.scanEvents({ table: SOFTWARE_TABLE, equals: [{ column: 'DeviceId', values: [deviceId] }], limit: maxRows });
  const byTime = new Map<string, SensorEvent[]>();
  for (const r of rows) {
    const list = byTime.get(r.Timestamp) ?? [];
    list.push(r);
    byTime.set(r.Timestamp, list);
  }
  for (const time of [...byTime.keys()].sort((a, b) => Date.parse(b) - Date.parse(a))) {
    const snap = byTime.get(time)!;
    const declared = Number(fields(snap[0]!).SnapshotRows);
    if (Number.isFinite(declared) && declared !== snap.length) continue;
    return snap.map((row) => {
      const f = fields(row);
      const r = row as Record<string, unknown>;
      const name = String(r.SoftwareName ?? '');
      const version = String(r.SoftwareVersion ?? '');
      return {
        deviceId, row, name, version, vendor: String(r.SoftwareVendor ?? ''), ecosystem: typeof f.Ecosystem === 'string' ? f.Ecosystem : '',
        sourceName: typeof f.SourceName === 'string' ? f.SourceName : name, sourceVersion: typeof f.SourceVersion === 'string' ? f.SourceVersion : version,
      };
    });
  }
  return undefined;
}

/** Loads the advisories that name any of the items' (source) packages, per ecosystem. */
async function advisoriesFor(store: Pick<Store, 'vulnerabilities'>, items: InstalledItem[]): Promise<Map<string, Advisory[]>> {
  const names = new Map<string, Set<string>>();
  for (const i of items) {
    if (!i.ecosystem) continue;
    const set = names.get(i.ecosystem) ?? new Set<string>();
    set.add(i.sourceName);
    set.add(i.name);
    names.set(i.ecosystem, set);
  }
  const out = new Map<string, Advisory[]>();
  for (const [eco, set] of names) out.set(eco, (await store.vulnerabilities.advisoriesFor(eco, [...set])).map((r) => r.body as unknown as Advisory));
  return out;
}

/**
 * Matches installed items against advisories: an item is looked up by its source package and
 * source version (what distribution advisories name), then by its own name and version.
 * One row per (item, CVE).
 */
export function matchItems(items: InstalledItem[], advisories: Map<string, Advisory[]>): VulnerabilityRow[] {
  const out: VulnerabilityRow[] = [];
  for (const i of items) {
    const list = advisories.get(i.ecosystem);
    if (!list?.length) continue;
    const hits = affecting({ ecosystem: i.ecosystem, name: i.sourceName, version: i.sourceVersion }, list);
    if (i.sourceName !== i.name) hits.push(...affecting({ ecosystem: i.ecosystem, name: i.name, version: i.version }, list));
    const seen = new Set<string>();
    for (const { advisory, fixed } of hits) {
      if (seen.has(advisory.cveId)) continue;
      seen.add(advisory.cveId);
      const r = i.row as Record<string, unknown>;
      out.push({
        DeviceId: i.deviceId, DeviceName: i.row.DeviceName, OSPlatform: String(r.OSPlatform ?? ''), OSVersion: String(r.OSVersion ?? ''),
        OSArchitecture: String(r.OSArchitecture ?? ''), SoftwareVendor: i.vendor, SoftwareName: i.name, SoftwareVersion: i.version,
        CveId: advisory.cveId, VulnerabilitySeverityLevel: advisory.severity,
        RecommendedSecurityUpdate: fixed ? `Update ${i.sourceName} to ${fixed} or later` : '',
        RecommendedSecurityUpdateId: advisory.id,
        CveTags: fixed ? [] : ['NoSecurityUpdate'],
      });
    }
  }
  return out.sort((a, b) => a.DeviceName.localeCompare(b.DeviceName) || a.SoftwareName.localeCompare(b.SoftwareName) || a.CveId.localeCompare(b.CveId));
}

/** DeviceTvmSoftwareVulnerabilities of these machines, from the store (latest snapshots, stored advisories). */
export async function findVulnerabilities(store: Pick<Store, 'events' | 'vulnerabilities'>, machines: Array<Pick<MachineRow, 'agentId'>>): Promise<VulnerabilityRow[]> {
  const out: VulnerabilityRow[] = [];
  for (const m of machines) {
    const items = await latestSoftware(store, m.agentId);
    if (items) out.push(...matchItems(items, await advisoriesFor(store, items)));
  }
  return out;
}

/** The latest software snapshot of each machine: the DeviceTvmSoftwareInventory rows MDE would show now. */
export async function currentSoftware(store: Pick<Store, 'events'>, machines: Array<Pick<MachineRow, 'agentId'>>): Promise<SensorEvent[]> {
  const out: SensorEvent[] = [];
  for (const m of machines) out.push(...((await latestSoftware(store, m.agentId)) ?? []).map((i) => i.row));
  return out;
}

export interface AssessorDeps {
  store: Store;
  clock: { now(): number };
  logger: Logger;
  debounceMs?: number;
}

/**
 * Vulnerability management for Arc machines: loads OSV feeds, matches each machine's latest
 * software snapshot against them (DeviceTvmSoftwareVulnerabilities), and keeps the assessment
 * of "Machines should have vulnerability findings resolved" per machine (Unhealthy with at least
 * one finding). A machine with no software snapshot has no assessment.
 */
export class VulnerabilityAssessor {
  private timers = new Map<string, NodeJS.Timeout>();
  private running: Promise<void> = Promise.resolve();
  /** Per agent, the snapshot (Timestamp) last assessed; a debounced call for the same one does nothing. */
  private assessedSnapshot = new Map<string, string>();
  private closed = false;

  constructor(private readonly deps: AssessorDeps) {}

  /** Loads an OSV feed's text into the store, then assesses every machine again. */
  async importFeed(body: string): Promise<{ advisories: number; stored: number; unchanged: number; withdrawn: number; total: number }> {
    const { advisories, withdrawn } = parseOsvFeed(body);
    const now = this.deps.clock.now();
    const r = await this.deps.store.vulnerabilities.putAdvisories(
      advisories.map((a) => ({ id: a.id, modified: a.modified, importedAt: now, body: a as unknown as Record<string, unknown> })),
      (row) => (row.body as unknown as Advisory).affected.map((a) => ({ ecosystem: a.ecosystem, name: a.name })),
    );
    await this.assess();
    return { advisories: advisories.length, ...r, withdrawn, total: await this.deps.store.vulnerabilities.countAdvisories() };
  }

  /** DeviceTvmSoftwareVulnerabilities of the given machines (default: all). */
  async findings(machines?: MachineRow[]): Promise<VulnerabilityRow[]> {
    return findVulnerabilities(this.deps.store, machines ?? await this.deps.store.machines.listMachines());
  }

  /** Re-evaluates the vulnerability assessment of the given machines (default: all), serialised. */
  assess(agentIds?: string[]): Promise<void> {
    const next = this.running.then(() => this.doAssess(agentIds));
    this.running = next.catch((err) => { this.deps.logger.error('vulnerability assessment failed', { error: String(err) }); });
    return next;
  }

  /**
   * Called when an agent's software-inventory rows (SOFTWARE_TABLE) were stored: assesses it
   * again, at most once per debounce interval (an unchanged snapshot writes nothing:
   * diffAssessments keeps equal rows).
   */
  ingested(agentId: string): void {
    if (this.closed || this.timers.has(agentId)) return;
    const t = setTimeout(() => {
      this.timers.delete(agentId);
      void this.assessIfNewSnapshot(agentId).catch(() => undefined);
    }, this.deps.debounceMs ?? VULN_DEFAULTS.debounceMs);
    t.unref();
    this.timers.set(agentId, t);
  }

  /** Assesses the agent's machine when its newest software row is not of the snapshot assessed last (one indexed read otherwise). */
  private async assessIfNewSnapshot(agentId: string): Promise<void> {
    const [newest] = await this.deps.store.events.scanEvents({ table: SOFTWARE_TABLE, equals: [{ column: 'DeviceId', values: [agentId] }], limit: 1 });
    if (!newest || this.assessedSnapshot.get(agentId) === newest.Timestamp) return;
    await this.assess([agentId]);
  }

  /** Waits for the assessments under way. */
  async idle(): Promise<void> {
    await this.running;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private async doAssess(agentIds?: string[]): Promise<void> {
    const { store, clock } = this.deps;
    const all = await store.machines.listMachines();
    const machines = agentIds ? all.filter((m) => agentIds.includes(m.agentId)) : all;
    const key = RECOMMENDATIONS.vmVulnerabilities.key;
    const next: Assessment[] = [];
    const assessed = new Set<string>();
    for (const m of machines) {
      const items = await latestSoftware(store, m.agentId);
      if (!items) continue;
      const snapshot = items[0]?.row.Timestamp ?? '';
      // A snapshot still arriving was passed over: its rows are newer, so the next batch looks again.
      this.assessedSnapshot.set(m.agentId, snapshot);
      const found = matchItems(items, await advisoriesFor(store, items));
      const cves = [...new Set(found.map((f) => f.CveId))].sort();
      assessed.add(m.resourceId);
      next.push({
        key, resourceId: m.resourceId, subscription: parseResourceId(m.resourceId)?.subscription ?? '',
        status: found.length ? 'Unhealthy' : 'Healthy',
        details: {
          name: m.name, softwareInventoried: items.length, snapshot, findings: found.length,
          vulnerablePackages: [...new Set(found.map((f) => f.SoftwareName))].sort(),
          cves: cves.slice(0, VULN_DEFAULTS.maxCvesInDetails),
        },
      });
    }
    const now = clock.now();
    // Only machines assessed now may change, and (on a full pass) rows of machines that are gone,
    // which become not applicable; a machine without a snapshot keeps its row as it is.
    const previous = (await store.inventory.listAssessments()).filter((r: AssessmentRow) => r.assessmentKey === key &&
      (assessed.has(r.resourceId) || (!agentIds && !all.some((m) => m.resourceId === r.resourceId))));
    const writes = diffAssessments(previous, next, now);
    for (const row of writes) await store.inventory.upsertAssessment(row);
  }
}
