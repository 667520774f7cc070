import type { SensorEvent, TableName } from '../../protocol/index.ts';
import { coverOf, lower, type Need, type NeedGetter } from './literal-need.ts';

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

/**
 * An Aho-Corasick automaton over lower-cased literals, run as a DFA (one table lookup per
 * character). To keep the table small (it is read for every character of every indexed field),
 * its alphabet is coarse: the ASCII characters the literals use most each have a class, the
 * literals' other ASCII characters share one, characters of no literal another, and every
 * non-ASCII character one more. Characters of one class are the same to the automaton, so `scan`
 * may report a literal that is not there (the rule is then checked for nothing) but never misses
 * one that is.
 *
 * Built lazily: construction writes only the trie's edges, the failure links and the outputs
 * (time linear in the literals' length); a DFA transition that is not a trie edge is worked out
 * from the failure links the first time a scan takes it, and kept. With SigmaHQ's ~8,900
 * command-line literals the full table has ~41,000 rows of 71 classes, and filling it was most of
 * building the index (each `arcsim detect` run builds it: 0.3–0.6 s of CPU for the two process
 * indexes, ~8–15 µs per event of a 42,000-event run, against 0.08–0.24 s now).
 */
/** ASCII characters with a class of their own in an automaton (the most frequent in its literals). */
const DISTINCT_CLASSES = 96;
/** The root's node number; 0 in the table means "not worked out yet". */
const ROOT = 1;

class Automaton {
  /** Character class of each ASCII code (0: in no literal); non-ASCII is class `wide`. */
  private readonly classOf = new Uint8Array(128);
  private readonly wide: number;
  private readonly width: number;
  /** delta[node * width + class] = next node; 0 until worked out (trie edges are there from the start). */
  private readonly delta: Uint16Array | Uint32Array;
  /** Failure link of each node (the longest proper suffix of its text that is a trie node). */
  private readonly fail: Uint16Array | Uint32Array;
  /** Literal indexes ending exactly at each node: outs[outStart[n] .. outStart[n + 1]). */
  private readonly outStart: Uint32Array;
  private readonly outs: Uint32Array;
  /** The node itself if it has literals, else the nearest node on its failure chain that has (0: none). */
  private readonly firstOut: Uint16Array | Uint32Array;
  /** After a node with literals, the next node on its failure chain that has literals (0: none). */
  private readonly nextOut: Uint16Array | Uint32Array;

  /** `ids[i]`: what `scan` reports for `lits[i]`. */
  constructor(lits: readonly string[], ids: readonly number[]) {
    const frequency = new Map<number, number>();
    let chars = 0;
    let longest = 0;
    for (const lit of lits) {
      chars += lit.length;
      if (lit.length > longest) longest = lit.length;
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(i);
        if (c < 128) frequency.set(c, (frequency.get(c) ?? 0) + 1);
      }
    }
    const ranked = [...frequency].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([c]) => c);
    let classes = 1;
    for (const c of ranked.slice(0, DISTINCT_CLASSES)) this.classOf[c] = classes++;
    if (ranked.length > DISTINCT_CLASSES) {
      for (const c of ranked.slice(DISTINCT_CLASSES)) this.classOf[c] = classes;
      classes++;
    }
    this.wide = classes;
    const width = this.width = classes + 1;
    const cls = (c: number) => (c < 128 ? this.classOf[c]! : this.wide);
    // The trie, one depth at a time: nodes are numbered by depth (the shallow rows every scan
    // reads sit together at the start of the table, not spread over it in literal order). Its
    // edges first go in a map (the node count, and so the table's size and type, is not known
    // yet): at most one node per literal character, plus the root and the unused node 0.
    const parent = new Uint32Array(chars + 2);
    const via = new Uint8Array(chars + 2);
    const edges = new Map<number, number>();
    const at = new Uint32Array(lits.length).fill(ROOT);
    // Longest first: at depth d, the literals still as long are a prefix of this order.
    const byLength = Uint32Array.from(lits.keys()).sort((a, b) => lits[b]!.length - lits[a]!.length);
    let nodes = ROOT + 1;
    for (let d = 0, live = lits.length; d < longest; d++) {
      while (live > 0 && lits[byLength[live - 1]!]!.length <= d) live--;
      for (let k = 0; k < live; k++) {
        const li = byLength[k]!;
        const p = at[li]!;
        const c = cls(lits[li]!.charCodeAt(d));
        const key = p * width + c;
        let m = edges.get(key);
        if (m === undefined) {
          m = nodes++;
          edges.set(key, m);
          parent[m] = p;
          via[m] = c;
        }
        at[li] = m;
      }
    }
    const small = nodes <= 0xffff;
    const nodeArray = (n: number) => (small ? new Uint16Array(n) : new Uint32Array(n));
    const delta = this.delta = nodeArray(nodes * width);
    for (let m = ROOT + 1; m < nodes; m++) delta[parent[m]! * width + via[m]!] = m;
    // Failure links in node order (a node's parent, and so its parent's failure chain, come first).
    const fail = this.fail = nodeArray(nodes);
    fail[ROOT] = ROOT;
    for (let m = ROOT + 1; m < nodes; m++) {
      const p = parent[m]!;
      const c = via[m]!;
      let f = ROOT;
      if (p !== ROOT) {
        f = fail[p]!;
        while (f !== ROOT && delta[f * width + c] === 0) f = fail[f]!;
        const t = delta[f * width + c]!;
        f = t !== 0 ? t : ROOT;
      }
      fail[m] = f;
    }
    // The root's row is complete from the start: a character no literal starts with stays there.
    for (let c = 0; c < width; c++) if (delta[ROOT * width + c] === 0) delta[ROOT * width + c] = ROOT;
    // Outputs: each literal at its end node; per node, the first and next nodes with literals on its failure chain.
    const count = new Uint32Array(nodes + 1);
    for (let li = 0; li < lits.length; li++) count[at[li]! + 1]!++;
    const outStart = this.outStart = new Uint32Array(nodes + 1);
    for (let n = 1; n <= nodes; n++) outStart[n] = outStart[n - 1]! + count[n]!;
    const fill = outStart.slice(0, nodes);
    const outs = this.outs = new Uint32Array(lits.length);
    for (let li = 0; li < lits.length; li++) outs[fill[at[li]!]!++] = ids[li]!;
    const firstOut = this.firstOut = nodeArray(nodes);
    const nextOut = this.nextOut = nodeArray(nodes);
    const own = (n: number) => outStart[n + 1]! > outStart[n]!;
    firstOut[ROOT] = own(ROOT) ? ROOT : 0;
    for (let m = ROOT + 1; m < nodes; m++) {
      const chain = firstOut[fail[m]!]!;
      firstOut[m] = own(m) ? m : chain;
      nextOut[m] = chain;
    }
  }

  /** The transition from `n` on class `c` that is not a trie edge: the failure node's, kept. */
  private step(n: number, c: number): number {
    const { delta, width } = this;
    const f = this.fail[n]!;
    const t = delta[f * width + c]!;
    const next = t !== 0 ? t : this.step(f, c);
    delta[n * width + c] = next;
    return next;
  }

  /** Calls `hit(id)` for every literal occurring in `s` (id: the literal's id given to the constructor). */
  scan(s: string, hit: (id: number) => void): void {
    const { delta, outStart, outs, classOf, wide, width, firstOut, nextOut } = this;
    let n = ROOT;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const k = c < 128 ? classOf[c]! : wide;
      const t = delta[n * width + k]!;
      n = t !== 0 ? t : this.step(n, k);
      for (let m = firstOut[n]!; m !== 0; m = nextOut[m]!) {
        for (let j = outStart[m]!, end = outStart[m + 1]!; j < end; j++) hit(outs[j]!);
      }
    }
  }
}

/** Lists of small integers per key, flattened (one allocation, read in order): list k is list[start[k] .. start[k + 1]). */
function flatten(lists: readonly number[][]): { start: Uint32Array; list: Int32Array } {
  const start = new Uint32Array(lists.length + 1);
  lists.forEach((l, k) => { start[k + 1] = start[k]! + l.length; });
  return { start, list: Int32Array.from(lists.flat()) };
}

/** True when the `lit` nodes satisfied so far (`met[node] === epoch`) satisfy a rule's need. */
type NeedCheck = (met: Uint32Array, epoch: number) => boolean;

/** The index of one table's rules for one OS family (or for devices of unknown OS). */
class TableIndex<R extends IndexedRule> {
  /** Rules that must be evaluated on every event (no necessary literal), by position in `rules`. */
  private readonly always: number[] = [];
  /**
   * Per indexed field: its automaton (which reports the ids of the literals it finds), and what
   * it found in the texts it scanned last (by lower-cased text; each id once): telemetry repeats
   * its values (paths, command lines, accounts), and a value seen before is not scanned again.
   */
  private readonly fields: Array<{ get: NeedGetter; automaton: Automaton; found: Map<string, Int32Array> }> = [];
  /** Per literal id: the rules whose cover holds it (they become candidates when it is found). */
  private readonly coverRules: number[][] = [];
  /**
   * Per literal id: the `lit` nodes of the rules' needs that list it. Finding the literal meets
   * them, so checking a `lit` node is one read, however many literals it lists.
   */
  private readonly litNodes: number[][] = [];
  private nodeCount = 0;
  /** Per `lit` node, the event count when it was last met. */
  private readonly nodeMet: Uint32Array;
  /** litNodes and coverRules flattened for the scan (what it reads per literal found). */
  private readonly litNodeStart: Uint32Array;
  private readonly litNodeList: Int32Array;
  private readonly coverStart: Uint32Array;
  private readonly coverList: Int32Array;
  /** Per rule: its whole need, checked against every literal found before the rule is evaluated. */
  private readonly checks: NeedCheck[] = [];
  /** Per literal id / rule, the event count when it was last found / became a candidate. */
  private readonly litSeen: Uint32Array;
  private readonly ruleSeen: Uint32Array;
  private epoch = 0;
  /** The rules found for the current event (reused: no allocation per event); `foundCount` long. */
  private readonly found: Int32Array;
  private foundCount = 0;

  constructor(readonly rules: R[]) {
    // Every literal of every rule's need gets an id, per field (getter).
    const ids = new Map<NeedGetter, Map<string, number>>();
    const idOf = (get: NeedGetter, lit: string): number => {
      let lits = ids.get(get);
      if (!lits) ids.set(get, (lits = new Map()));
      let id = lits.get(lit);
      if (id === undefined) {
        id = this.coverRules.length;
        lits.set(lit, id);
        this.coverRules.push([]);
        this.litNodes.push([]);
      }
      return id;
    };
    const litNode = (need: Extract<Need, { kind: 'lit' }>): number => {
      const node = this.nodeCount++;
      for (const l of need.lits) {
        const nodes = this.litNodes[idOf(need.get, l)]!;
        if (nodes[nodes.length - 1] !== node) nodes.push(node);
      }
      return node;
    };
    const compile = (need: Need): NeedCheck => {
      switch (need.kind) {
        case 'any': return () => true;
        case 'lit': {
          const node = litNode(need);
          return (met, epoch) => met[node] === epoch;
        }
        case 'and': {
          // The `lit` parts are read straight from `met`; only nested and/or parts are calls.
          const nodes = Int32Array.from(need.parts.filter((p) => p.kind === 'lit').map(litNode));
          const parts = need.parts.filter((p) => p.kind !== 'lit').map(compile);
          return (met, epoch) => {
            for (let i = 0; i < nodes.length; i++) if (met[nodes[i]!] !== epoch) return false;
            for (let i = 0; i < parts.length; i++) if (!parts[i]!(met, epoch)) return false;
            return true;
          };
        }
        case 'or': {
          const nodes = Int32Array.from(need.parts.filter((p) => p.kind === 'lit').map(litNode));
          const parts = need.parts.filter((p) => p.kind !== 'lit').map(compile);
          return (met, epoch) => {
            for (let i = 0; i < nodes.length; i++) if (met[nodes[i]!] === epoch) return true;
            for (let i = 0; i < parts.length; i++) if (parts[i]!(met, epoch)) return true;
            return false;
          };
        }
      }
    };
    rules.forEach((rule, r) => {
      this.checks.push(compile(rule.need));
      const cover = coverOf(rule.need);
      if (!cover) {
        this.always.push(r);
        return;
      }
      for (const { get, lit } of cover) {
        const list = this.coverRules[idOf(get, lit)]!;
        // Rules come in order: a rule already listed is the last one.
        if (list[list.length - 1] !== r) list.push(r);
      }
    });
    for (const [get, lits] of ids) {
      const entries = [...lits];
      this.fields.push({ get, automaton: new Automaton(entries.map(([l]) => l), entries.map(([, id]) => id)), found: new Map() });
    }
    ({ start: this.litNodeStart, list: this.litNodeList } = flatten(this.litNodes));
    ({ start: this.coverStart, list: this.coverList } = flatten(this.coverRules));
    this.litSeen = new Uint32Array(this.coverRules.length);
    this.scanSeen = new Uint32Array(this.coverRules.length);
    this.scanIds = new Int32Array(this.coverRules.length);
    this.nodeMet = new Uint32Array(this.nodeCount);
    this.ruleSeen = new Uint32Array(rules.length);
    this.found = new Int32Array(rules.length);
  }

  /** One scan's literal ids, each once (scanSeen[id] === scanEpoch once collected). */
  private readonly scanSeen: Uint32Array;
  private readonly scanIds: Int32Array;
  private scanCount = 0;
  private scanEpoch = 0;

  private readonly collect = (id: number) => {
    if (this.scanSeen[id] === this.scanEpoch) return;
    this.scanSeen[id] = this.scanEpoch;
    this.scanIds[this.scanCount++] = id;
  };

  /** The literal ids the field's automaton finds in `text` (each once), memoised per field. */
  private scan(field: { automaton: Automaton; found: Map<string, Int32Array> }, text: string): Int32Array {
    let ids = field.found.get(text);
    if (ids === undefined) {
      if (++this.scanEpoch === 0xffffffff) {
        this.scanSeen.fill(0);
        this.scanEpoch = 1;
      }
      this.scanCount = 0;
      field.automaton.scan(text, this.collect);
      ids = this.scanCount === 0 ? NO_IDS : this.scanIds.slice(0, this.scanCount);
      if (field.found.size >= SCAN_MEMO) field.found.clear();
      field.found.set(text, ids);
    }
    return ids;
  }

  private readonly hit = (id: number) => {
    const epoch = this.epoch;
    if (this.litSeen[id] === epoch) return;
    this.litSeen[id] = epoch;
    const nodeMet = this.nodeMet;
    const nodes = this.litNodeList;
    for (let j = this.litNodeStart[id]!, end = this.litNodeStart[id + 1]!; j < end; j++) nodeMet[nodes[j]!] = epoch;
    const rules = this.coverList;
    const ruleSeen = this.ruleSeen;
    for (let j = this.coverStart[id]!, end = this.coverStart[id + 1]!; j < end; j++) {
      const r = rules[j]!;
      if (ruleSeen[r] !== epoch) {
        ruleSeen[r] = epoch;
        this.found[this.foundCount++] = r;
      }
    }
  };

  /**
   * The rules that may match `event` (their whole need is met by the literals found), in rule
   * order; with `match`, only those that match it. Allocates only the returned array (none when
   * no rule is returned).
   */
  candidates(event: Record<string, unknown>, match = false): R[] {
    if (++this.epoch === 0xffffffff) {
      this.litSeen.fill(0);
      this.ruleSeen.fill(0);
      this.nodeMet.fill(0);
      this.epoch = 1;
    }
    const found = this.found;
    const always = this.always;
    for (let i = 0; i < always.length; i++) found[i] = always[i]!;
    this.foundCount = always.length;
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const v = f.get(event);
      if (v === undefined || v === null) continue;
      const ids = this.scan(f, lower(v));
      for (let j = 0; j < ids.length; j++) this.hit(ids[j]!);
    }
    const n = this.foundCount;
    if (n !== always.length) found.subarray(0, n).sort();
    let out: R[] = NONE as R[];
    for (let i = 0; i < n; i++) {
      const r = found[i]!;
      if (!this.checks[r]!(this.nodeMet, this.epoch)) continue;
      const rule = this.rules[r]!;
      if (match && !rule.match(event)) continue;
      if (out === NONE) out = [];
      out.push(rule);
    }
    return out;
  }
}

/** Texts whose scan result a field keeps (then it starts over): a few rounds of a lab's distinct values. */
const SCAN_MEMO = 16_384;
const NO_IDS = new Int32Array(0);

/** The empty result (shared; never modified). */
const NONE: never[] = [];

/** Detection rules indexed by table, OS family and necessary literal. */
export class RuleIndex<R extends IndexedRule> {
  /** Per table, its indexes by OS family (OS_FAMILIES order, then unknown OS last). */
  private readonly indexes = new Map<string, Array<TableIndex<R> | undefined>>();

  constructor(private readonly byTable: ReadonlyMap<TableName, readonly R[]>) {}

  /** The rules of `event`'s table for OS family `os` that may match it, in rule order. */
  candidates(event: SensorEvent, os: OsFamily | undefined): R[] {
    return this.indexOf(event, os).candidates(event as Record<string, unknown>);
  }

  private indexOf(event: SensorEvent, os: OsFamily | undefined): TableIndex<R> {
    let byOs = this.indexes.get(event.Table);
    if (!byOs) this.indexes.set(event.Table, (byOs = []));
    const slot = os === undefined ? OS_FAMILIES.length : OS_FAMILIES.indexOf(os);
    let index = byOs[slot];
    if (!index) {
      // Built on first use: one per (table, OS family) that events actually arrive for.
      index = byOs[slot] = new TableIndex((this.byTable.get(event.Table) ?? []).filter((r) => ruleRunsOn(r, os)));
    }
    return index;
  }

  /** The rules of `event`'s table for OS family `os` that match it, in rule order. */
  matching(event: SensorEvent, os: OsFamily | undefined): R[] {
    return this.indexOf(event, os).candidates(event as Record<string, unknown>, true);
  }
}
