import type { SensorEvent, TableName } from '../../protocol/index.ts';
import { coverOf, type Need, type NeedGetter } from './literal-need.ts';

/**
 * The rule index: which detection rules can possibly match an event, so only those are evaluated
 * (what Hayabusa, Chainsaw and Zircolite do). Rules are indexed by
 *
 * - **table** (a rule reads one MDE table);
 * - **OS family**: a rule whose Sigma `logsource.product` is `windows`, `linux` or `macos` runs only
 *   on events of devices of that family; on a device whose OS is unknown, every rule runs;
 * - **a necessary literal**: from each rule's compiled condition (literal-need.ts) a set of
 *   (field, literal) pairs at least one of which occurs in every event the rule matches. Per event,
 *   each indexed field is read once (through the same getter the rule uses), lower-cased once, and
 *   scanned once with an Aho-Corasick automaton over all the literals of that field; the rules of
 *   the literals found, plus the rules with no such set, are the candidates.
 *
 * The index only skips rules that cannot match: the candidates are evaluated with their own
 * compiled predicate, so the matches are exactly those of evaluating every rule on every event.
 */
export type OsFamily = 'windows' | 'linux' | 'macos';

export const OS_FAMILIES: readonly OsFamily[] = ['windows', 'linux', 'macos'];

/**
 * The OS family of a machine's `osType` fact (windows, linux, darwin) or of MDE's DeviceInfo
 * `OSPlatform` (Windows10, WindowsServer2022, Linux, macOS …); undefined when it says none.
 */
export function osFamilyOf(os: string | undefined | null): OsFamily | undefined {
  if (!os) return undefined;
  const s = os.toLowerCase();
  if (s.startsWith('windows')) return 'windows';
  if (s === 'linux' || s.startsWith('linux')) return 'linux';
  if (s === 'darwin' || s === 'macos' || s === 'mac os' || s === 'osx') return 'macos';
  return undefined;
}

/** The part of a compiled detection rule the index reads. */
export interface IndexedRule {
  table: TableName;
  /** Sigma logsource.product (lower-cased). */
  product: string | undefined;
  need: Need;
  match: (event: Record<string, unknown>) => boolean;
}

/** True when `rule` may run on a device of OS family `os` (undefined: unknown, every rule runs). */
export function ruleRunsOn(rule: { product: string | undefined }, os: OsFamily | undefined): boolean {
  if (os === undefined || rule.product === undefined) return true;
  const family = osFamilyOf(rule.product);
  return family === undefined || family === os;
}

/** An Aho-Corasick automaton over lower-cased literals; `scan` reports each literal found. */
class Automaton {
  private readonly next: Array<Map<number, number>> = [new Map()];
  private readonly fail: number[] = [0];
  /** Literal indexes ending at each node (its own and those of its suffixes). */
  private readonly out: Array<number[] | undefined> = [undefined];
  /** The root's transitions for ASCII, the hottest lookups. */
  private readonly root = new Int32Array(128).fill(-1);

  constructor(lits: readonly string[]) {
    lits.forEach((lit, li) => {
      let n = 0;
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(i);
        let m = this.next[n]!.get(c);
        if (m === undefined) {
          m = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.out.push(undefined);
          this.next[n]!.set(c, m);
        }
        n = m;
      }
      (this.out[n] ??= []).push(li);
    });
    const queue: number[] = [];
    for (const [c, m] of this.next[0]!) {
      queue.push(m);
      if (c < 128) this.root[c] = m;
    }
    for (let q = 0; q < queue.length; q++) {
      const n = queue[q]!;
      for (const [c, m] of this.next[n]!) {
        queue.push(m);
        let f = this.fail[n]!;
        while (f !== 0 && !this.next[f]!.has(c)) f = this.fail[f]!;
        const target = this.next[f]!.get(c);
        this.fail[m] = target !== undefined && target !== m ? target : 0;
        const inherited = this.out[this.fail[m]!];
        if (inherited) this.out[m] = [...(this.out[m] ?? []), ...inherited];
      }
    }
  }

  /** Calls `mark` with every rule of every literal occurring in `s` (`rulesOf`: the rules of each literal). */
  scan(s: string, rulesOf: number[][], mark: (rule: number) => void): void {
    const { next, fail, out, root } = this;
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      for (;;) {
        if (n === 0) {
          const m = c < 128 ? root[c]! : (next[0]!.get(c) ?? -1);
          n = m < 0 ? 0 : m;
          break;
        }
        const m = next[n]!.get(c);
        if (m !== undefined) {
          n = m;
          break;
        }
        n = fail[n]!;
      }
      const o = out[n];
      if (o) {
        for (let k = 0; k < o.length; k++) {
          const rs = rulesOf[o[k]!]!;
          for (let j = 0; j < rs.length; j++) mark(rs[j]!);
        }
      }
    }
  }
}

/** The index of one table's rules for one OS family (or for devices of unknown OS). */
class TableIndex<R extends IndexedRule> {
  /** Rules that must be evaluated on every event (no necessary literal), by position in `rules`. */
  private readonly always: number[] = [];
  private readonly fields: Array<{ get: NeedGetter; automaton: Automaton; rulesOf: number[][] }> = [];
  /** Per rule, the event count when it last became a candidate (no per-event allocation of a set). */
  private readonly seen: Uint32Array;
  private epoch = 0;
  private found: number[] = [];
  private readonly mark = (r: number) => {
    if (this.seen[r] !== this.epoch) {
      this.seen[r] = this.epoch;
      this.found.push(r);
    }
  };

  constructor(readonly rules: R[]) {
    this.seen = new Uint32Array(rules.length);
    const byGetter = new Map<NeedGetter, Map<string, number[]>>();
    rules.forEach((rule, r) => {
      const cover = coverOf(rule.need);
      if (!cover) {
        this.always.push(r);
        return;
      }
      for (const { get, lit } of cover) {
        let lits = byGetter.get(get);
        if (!lits) byGetter.set(get, (lits = new Map()));
        const list = lits.get(lit) ?? [];
        if (!list.includes(r)) list.push(r);
        lits.set(lit, list);
      }
    });
    for (const [get, lits] of byGetter) {
      const entries = [...lits];
      this.fields.push({ get, automaton: new Automaton(entries.map(([l]) => l)), rulesOf: entries.map(([, rs]) => rs) });
    }
  }

  /** The rules that may match `event`, in rule order. */
  candidates(event: Record<string, unknown>): R[] {
    if (++this.epoch === 0xffffffff) {
      this.seen.fill(0);
      this.epoch = 1;
    }
    const found: number[] = this.found = [...this.always];
    for (const r of this.always) this.seen[r] = this.epoch;
    for (const f of this.fields) {
      const v = f.get(event);
      if (v === undefined || v === null) continue;
      const text = (typeof v === 'string' ? v : String(v)).toLowerCase();
      f.automaton.scan(text, f.rulesOf, this.mark);
    }
    if (found.length !== this.always.length) found.sort((a, b) => a - b);
    const out: R[] = new Array<R>(found.length);
    for (let i = 0; i < found.length; i++) out[i] = this.rules[found[i]!]!;
    return out;
  }
}

/** Detection rules indexed by table, OS family and necessary literal. */
export class RuleIndex<R extends IndexedRule> {
  private readonly indexes = new Map<string, TableIndex<R>>();

  constructor(private readonly byTable: ReadonlyMap<TableName, readonly R[]>) {}

  /** The rules of `event`'s table for OS family `os` that may match it, in rule order. */
  candidates(event: SensorEvent, os: OsFamily | undefined): R[] {
    const key = os === undefined ? event.Table : `${event.Table}\u0000${os}`;
    let index = this.indexes.get(key);
    if (!index) {
      // Built on first use: one per (table, OS family) that events actually arrive for.
      index = new TableIndex((this.byTable.get(event.Table) ?? []).filter((r) => ruleRunsOn(r, os)));
      this.indexes.set(key, index);
    }
    return index.candidates(event as Record<string, unknown>);
  }

  /** The rules of `event`'s table for OS family `os` that match it, in rule order. */
  matching(event: SensorEvent, os: OsFamily | undefined): R[] {
    const out: R[] = [];
    for (const rule of this.candidates(event, os)) if (rule.match(event as Record<string, unknown>)) out.push(rule);
    return out;
  }
}
