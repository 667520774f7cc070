import type { RuleGroup, RuleHit, StoreTx } from '../store/index.ts';

/** One (rule, group)'s hits: as they stand now in this transaction, and as the store has them. */
interface Group {
  key: RuleGroup;
  /** The hits now, by (eventTime, reportId), as `ORDER BY event_time, report_id` under a byte-order collation. */
  hits: RuleHit[];
  /** The rows the store holds (as loaded, or as last written), by reportId. */
  stored: Map<string, RuleHit>;
  /** Changed since loaded or last written. */
  dirty: boolean;
}

/**
 * The correlation state (rule_hits) of one transaction, issue 16: every (rule, group) the
 * transaction touches is read once — those known before evaluation all in one statement
 * (`load`), any other when first needed — then added to, pruned, read and consumed in memory
 * event by event exactly as the per-event statements did, and written back by `flush` in one
 * delete and one insert for all groups. The store stays the truth between transactions (several
 * replicas write the same groups on PostgreSQL; a restart continues every window): nothing is
 * kept past the transaction. On PostgreSQL a group is read only after its advisory lock is held
 * (store.lockRuleGroups), the keys of one `load` locked in one statement, sorted, so two
 * replicas' group commits take their locks in the same order.
 */
export class HitWindows {
  /** By rule id, then group key: two plain lookups per event, no composite key string built. */
  private readonly groups = new Map<string, Map<string, Group>>();

  constructor(private readonly tx: StoreTx) {}

  private loaded(ruleId: string, groupKey: string): Group | undefined {
    return this.groups.get(ruleId)?.get(groupKey);
  }

  /** Locks and reads every group of `keys` not read yet, in two statements whatever their number. */
  async load(keys: Iterable<RuleGroup>): Promise<void> {
    const wanted = new Map<string, RuleGroup>();
    for (const k of keys) {
      if (!this.loaded(k.ruleId, k.groupKey)) wanted.set(idOf(k), k);
    }
    if (wanted.size === 0) return;
    const sorted = [...wanted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, k]) => k);
    await this.tx.events.lockRuleGroups(sorted);
    const rows = await this.tx.events.ruleGroupHits(sorted);
    const fresh: Group[] = [];
    for (const k of sorted) {
      let byKey = this.groups.get(k.ruleId);
      if (!byKey) this.groups.set(k.ruleId, (byKey = new Map()));
      const g: Group = { key: k, hits: [], stored: new Map(), dirty: false };
      byKey.set(k.groupKey, g);
      fresh.push(g);
    }
    for (const h of rows) {
      const g = this.loaded(h.ruleId, h.groupKey)!;
      g.hits.push(h);
      g.stored.set(h.reportId, h);
    }
    for (const g of fresh) g.hits.sort(byTimeThenId);
  }

  /**
   * The group's window, read (and on PostgreSQL locked) now if this transaction has not yet: a
   * plain value when it was (the common case: `load` read it ahead), so the caller need not await.
   */
  open(ruleId: string, groupKey: string): Window | Promise<Window> {
    const g = this.loaded(ruleId, groupKey);
    if (g) return new Window(g);
    return this.load([{ ruleId, groupKey }]).then(() => new Window(this.loaded(ruleId, groupKey)!));
  }

  /** As `INSERT ... ON CONFLICT DO NOTHING`: a hit whose (rule, group, reportId) is there already is ignored. */
  async add(hit: RuleHit): Promise<void> {
    (await this.open(hit.ruleId, hit.groupKey)).add(hit);
  }

  /** Drops the group's hits with `eventTime < before`. */
  async prune(ruleId: string, groupKey: string, before: number): Promise<void> {
    (await this.open(ruleId, groupKey)).prune(before);
  }

  /** The group's hits with `from <= eventTime <= to`, oldest first (ties by reportId). */
  async range(ruleId: string, groupKey: string, from: number, to: number): Promise<RuleHit[]> {
    return (await this.open(ruleId, groupKey)).range(from, to);
  }

  /** Consumes the group's hits with these reportIds. */
  async remove(ruleId: string, groupKey: string, reportIds: string[]): Promise<void> {
    if (reportIds.length === 0) return;
    (await this.open(ruleId, groupKey)).remove(reportIds);
  }

  /**
   * Groups of `ruleId` whose earliest hit is at or before `before` (lt/lte/eq windows to decide):
   * asked of the store, over every group, after writing this transaction's changes.
   */
  async groupStarts(ruleId: string, before: number): Promise<Array<{ groupKey: string; first: number }>> {
    await this.flush();
    return this.tx.events.ruleGroupStarts(ruleId, before);
  }

  /** Writes what changed since the last flush: one delete and one insert for all groups. */
  async flush(): Promise<void> {
    const removed: Array<Pick<RuleHit, 'ruleId' | 'groupKey' | 'reportId'>> = [];
    const added: RuleHit[] = [];
    for (const byKey of this.groups.values()) {
      for (const g of byKey.values()) {
        if (!g.dirty) continue;
        const now = new Map(g.hits.map((h) => [h.reportId, h]));
        for (const [id, h] of g.stored) {
          const n = now.get(id);
          // A row consumed and its key added again (a new hit of the same ReportId): delete, then insert.
          if (!n || !sameHit(n, h)) removed.push(h);
        }
        for (const [id, h] of now) {
          const s = g.stored.get(id);
          if (!s || !sameHit(s, h)) added.push(h);
        }
        g.stored = now;
        g.dirty = false;
      }
    }
    await this.tx.events.writeRuleHits(removed, added);
  }
}

/**
 * One loaded (rule, group)'s hits, changed in memory by the same rules as the per-event
 * statements did. Its hits stay sorted by (eventTime, reportId), so the hits older than a bound
 * are a prefix and a time range is a slice.
 */
export class Window {
  constructor(private readonly g: Group) {}

  /** As `INSERT ... ON CONFLICT DO NOTHING`: a hit whose reportId is there already is ignored. */
  add(hit: RuleHit): void {
    const hits = this.g.hits;
    for (const h of hits) if (h.reportId === hit.reportId) return;
    let i = hits.length;
    while (i > 0 && byTimeThenId(hits[i - 1]!, hit) > 0) i--;
    hits.splice(i, 0, hit);
    this.g.dirty = true;
  }

  /** Drops the hits with `eventTime < before`. */
  prune(before: number): void {
    const hits = this.g.hits;
    let n = 0;
    while (n < hits.length && hits[n]!.eventTime < before) n++;
    if (n === 0) return;
    hits.splice(0, n);
    this.g.dirty = true;
  }

  /** The hits with `from <= eventTime <= to`, oldest first (ties by reportId); a new array. */
  range(from: number, to: number): RuleHit[] {
    const hits = this.g.hits;
    let lo = 0;
    while (lo < hits.length && hits[lo]!.eventTime < from) lo++;
    let hi = lo;
    while (hi < hits.length && hits[hi]!.eventTime <= to) hi++;
    return hits.slice(lo, hi);
  }

  /** Consumes the hits with these reportIds. */
  remove(reportIds: readonly string[]): void {
    if (reportIds.length === 0) return;
    const gone = new Set(reportIds);
    const kept = this.g.hits.filter((h) => !gone.has(h.reportId));
    if (kept.length === this.g.hits.length) return;
    this.g.hits = kept;
    this.g.dirty = true;
  }
}

const idOf = (k: RuleGroup): string => `${k.ruleId}\u001f${k.groupKey}`;

/** As `ORDER BY event_time, report_id` with rule_hits' byte-order collation (BINARY, "C"): UTF-8 byte order is code point order. */
function byTimeThenId(a: RuleHit, b: RuleHit): number {
  return a.eventTime - b.eventTime || byCodePoint(a.reportId, b.reportId);
}

function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (a code point above U+FFFF) sorts after U+E000..U+FFFF, though its code unit is lower.
    if (x >= 0xd800 && y >= 0xd800) {
      if (x < 0xe000) x += 0x2000; else if (x >= 0xe000) x -= 0x800;
      if (y < 0xe000) y += 0x2000; else if (y >= 0xe000) y -= 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

function sameHit(a: RuleHit, b: RuleHit): boolean {
  return a.eventTime === b.eventTime && a.detonationId === b.detonationId && a.value === b.value;
}
