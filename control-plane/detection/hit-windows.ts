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
  private readonly groups = new Map<string, Group>();

  constructor(private readonly tx: StoreTx) {}

  /** Locks and reads every group of `keys` not read yet, in two statements whatever their number. */
  async load(keys: Iterable<RuleGroup>): Promise<void> {
    const wanted = new Map<string, RuleGroup>();
    for (const k of keys) {
      const id = idOf(k);
      if (!this.groups.has(id)) wanted.set(id, k);
    }
    if (wanted.size === 0) return;
    const sorted = [...wanted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, k]) => k);
    await this.tx.events.lockRuleGroups(sorted);
    const rows = await this.tx.events.ruleGroupHits(sorted);
    for (const k of sorted) this.groups.set(idOf(k), { key: k, hits: [], stored: new Map(), dirty: false });
    for (const h of rows) {
      const g = this.groups.get(idOf(h))!;
      g.hits.push(h);
      g.stored.set(h.reportId, h);
    }
    for (const k of sorted) this.groups.get(idOf(k))!.hits.sort(byTimeThenId);
  }

  /** The group, read (and on PostgreSQL locked) now if this transaction has not yet. */
  private async group(ruleId: string, groupKey: string): Promise<Group> {
    const key = { ruleId, groupKey };
    const id = idOf(key);
    let g = this.groups.get(id);
    if (!g) {
      await this.load([key]);
      g = this.groups.get(id)!;
    }
    return g;
  }

  /** As `INSERT ... ON CONFLICT DO NOTHING`: a hit whose (rule, group, reportId) is there already is ignored. */
  async add(hit: RuleHit): Promise<void> {
    const g = await this.group(hit.ruleId, hit.groupKey);
    if (g.hits.some((h) => h.reportId === hit.reportId)) return;
    let i = g.hits.length;
    while (i > 0 && byTimeThenId(g.hits[i - 1]!, hit) > 0) i--;
    g.hits.splice(i, 0, hit);
    g.dirty = true;
  }

  /** Drops the group's hits with `eventTime < before`. */
  async prune(ruleId: string, groupKey: string, before: number): Promise<void> {
    const g = await this.group(ruleId, groupKey);
    const kept = g.hits.filter((h) => !(h.eventTime < before));
    if (kept.length === g.hits.length) return;
    g.hits = kept;
    g.dirty = true;
  }

  /** The group's hits with `from <= eventTime <= to`, oldest first (ties by reportId). */
  async range(ruleId: string, groupKey: string, from: number, to: number): Promise<RuleHit[]> {
    const g = await this.group(ruleId, groupKey);
    return g.hits.filter((h) => h.eventTime >= from && h.eventTime <= to);
  }

  /** Consumes the group's hits with these reportIds. */
  async remove(ruleId: string, groupKey: string, reportIds: string[]): Promise<void> {
    if (reportIds.length === 0) return;
    const g = await this.group(ruleId, groupKey);
    const gone = new Set(reportIds);
    const kept = g.hits.filter((h) => !gone.has(h.reportId));
    if (kept.length === g.hits.length) return;
    g.hits = kept;
    g.dirty = true;
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
    for (const g of this.groups.values()) {
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
    await this.tx.events.writeRuleHits(removed, added);
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
