/**
 * What a compiled Sigma rule needs to see in an event before it can match: a tree of
 * (field, literal) requirements derived from its selections and condition when it loads. The rule
 * index (rule-index.ts) uses it to skip rules that cannot match an event; it never decides a match.
 *
 * A `lit` node is *necessary*: when the rule's predicate holds, the lower-cased text of the field as
 * the rule reads it (`String(get(event)).toLowerCase()`, through the same getter, value transforms
 * included) contains at least one of `lits`. Anything arcsim cannot vouch for is `any` (no
 * requirement): regular expressions, numbers, `cidr`, `null`, `exists`, `fieldref`, `neq`, keyword
 * searches, and everything under a `not`.
 */

/** Reads a field of an event, as the rule's matchers read it (a getter of field-mapping.ts). */
export type NeedGetter = (event: Record<string, unknown>) => unknown;

export type Need =
  | { kind: 'any' }
  | { kind: 'lit'; get: NeedGetter; lits: string[] }
  | { kind: 'and'; parts: Need[] }
  | { kind: 'or'; parts: Need[] };

export const ANY: Need = Object.freeze({ kind: 'any' }) as Need;

export function needAnd(parts: Need[]): Need {
  const useful = parts.filter((p) => p.kind !== 'any');
  if (useful.length === 0) return ANY;
  return useful.length === 1 ? useful[0]! : { kind: 'and', parts: useful };
}

export function needOr(parts: Need[]): Need {
  if (parts.length === 0 || parts.some((p) => p.kind === 'any')) return ANY;
  return parts.length === 1 ? parts[0]! : { kind: 'or', parts };
}

/** One (field, literal) pair of a cover. */
export interface CoverEntry {
  get: NeedGetter;
  lit: string;
}

/**
 * A cover of `need`: (field, literal) pairs such that whenever the rule matches, at least one pair
 * occurs (the literal is a substring of the field's lower-cased text). Undefined when there is none
 * (the rule must be evaluated on every event of its table). Of the parts of an `and`, the cover
 * with the most selective literals is kept (longest shortest literal, then fewest pairs).
 */
export function coverOf(need: Need): CoverEntry[] | undefined {
  switch (need.kind) {
    case 'any': return undefined;
    case 'lit': return need.lits.some((l) => l === '') ? undefined : need.lits.map((lit) => ({ get: need.get, lit }));
    case 'or': {
      const out: CoverEntry[] = [];
      for (const p of need.parts) {
        const c = coverOf(p);
        if (!c) return undefined;
        out.push(...c);
      }
      return out;
    }
    case 'and': {
      let best: CoverEntry[] | undefined;
      for (const p of need.parts) {
        const c = coverOf(p);
        if (c && (!best || better(c, best))) best = c;
      }
      return best;
    }
  }
}

function better(a: CoverEntry[], b: CoverEntry[]): boolean {
  const ma = Math.min(...a.map((e) => Math.min(e.lit.length, 12)));
  const mb = Math.min(...b.map((e) => Math.min(e.lit.length, 12)));
  return ma !== mb ? ma > mb : a.length < b.length;
}

/** True for text whose lower-casing is the same inside and outside any surrounding text (ASCII). */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Lower-cased text of a field value, memoised: one event's values are scanned by the rule index
 * and compared by its candidate rules, and a string's hash is cached by V8, so a lookup is
 * cheaper than lower-casing again (the index and the rules share this memo, so each value is
 * lower-cased once).
 */
const lowered = new Map<string, string>();
/** Texts the memo keeps (then it starts over): the distinct values of a few thousand process events (~15,000 in one round of the Atomic tests). */
const LOWERED_MEMO = 32_768;
export function lower(a: unknown): string {
  const s = typeof a === 'string' ? a : String(a);
  let v = lowered.get(s);
  if (v === undefined) {
    v = s.toLowerCase();
    if (lowered.size >= LOWERED_MEMO) lowered.clear();
    lowered.set(s, v);
  }
  return v;
}
