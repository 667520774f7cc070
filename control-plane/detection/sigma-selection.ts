import type { TableName } from '../../protocol/index.ts';
import type { FieldMapping, Getter } from './field-mapping.ts';
import { ANY, isAscii, lower, needAnd, needOr, type Need } from './literal-need.ts';
import { anyOf } from './sigma-condition.ts';

/** A compiled selection: true when the event (a flat column map) satisfies it. */
export type Predicate = (event: Record<string, unknown>) => boolean;

/** Value modifiers arcsim implements, as the Sigma specification (v2.1 modifiers appendix) defines them. */
export const SUPPORTED_MODIFIERS = [
  'contains', 'startswith', 'endswith', 'all', 'exists', 'cased', 'neq', 'windash',
  're', 'i', 'm', 's', 'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide',
  'gt', 'gte', 'lt', 'lte', 'minute', 'hour', 'day', 'week', 'month', 'year',
  'cidr', 'expand', 'fieldref',
] as const;

/**
 * The necessary literals of each compiled selection (see literal-need.ts), and of each value
 * matcher (lower-cased literals, one of which the field's lower-cased text contains whenever the
 * matcher holds). A predicate or matcher not listed needs nothing.
 */
const selectionNeeds = new WeakMap<Predicate, Need>();
const valueNeeds = new WeakMap<ValueMatcher, string[]>();

/** What a selection compiled by compileSelection needs to see in an event before it can hold. */
export function selectionNeed(p: Predicate): Need {
  return selectionNeeds.get(p) ?? ANY;
}

function withNeed(p: Predicate, need: Need): Predicate {
  if (need.kind !== 'any') selectionNeeds.set(p, need);
  return p;
}

function withLits(m: ValueMatcher, lits: string[] | undefined): ValueMatcher {
  if (lits && lits.length && lits.every((l) => l !== '')) valueNeeds.set(m, [...new Set(lits)]);
  return m;
}

export class SelectionError extends Error {
  constructor(message: string, readonly path: string, readonly kind: 'unsupported' | 'field' | 'schema') {
    super(message);
  }
}

export interface SelectionContext {
  table: TableName;
  mapping: FieldMapping;
  /** Filled with the fields whose getter reads the file profile rather than the row. */
  profileFields?: Set<string>;
}

/**
 * Compiles one named selection (search identifier). A map is AND over its fields; a list of maps
 * is OR; a list of plain values (or a map of `|modifier` keys) is a keyword search over every
 * column of the event. Values in a list are OR, unless `all` makes them AND. Strings compare
 * case-insensitively unless `cased`; `re` is case-sensitive unless `i`.
 */
export function compileSelection(name: string, body: unknown, ctx: SelectionContext): Predicate {
  const path = `detection.${name}`;
  if (Array.isArray(body)) {
    if (body.length === 0) throw new SelectionError('an empty list', path, 'schema');
    if (body.every((b) => typeof b === 'object' && b !== null && !Array.isArray(b))) {
      const alts = body.map((b, i) => compileMap(b as Record<string, unknown>, ctx, `${path}.${i}`));
      return withNeed(anyOf(alts), needOr(alts.map(selectionNeed)));
    }
    if (body.every((b) => b === null || typeof b !== 'object')) return compileKeywords('', body, `${path}`);
    throw new SelectionError('a list mixes maps and plain values', path, 'schema');
  }
  if (typeof body === 'string' || typeof body === 'number') return compileKeywords('', [body], path);
  if (typeof body === 'object' && body !== null) return compileMap(body as Record<string, unknown>, ctx, path);
  throw new SelectionError('a selection is a map of fields, a list of maps or a list of keywords', path, 'schema');
}

function compileMap(map: Record<string, unknown>, ctx: SelectionContext, path: string): Predicate {
  const entries = Object.entries(map);
  if (entries.length === 0) throw new SelectionError('an empty map', path, 'schema');
  const parts = entries.map(([key, value]) => key === '' || key.startsWith('|')
    ? compileKeywords(key, Array.isArray(value) ? value : [value], `${path}.${key}`)
    : compileField(key, value, ctx, `${path}.${key}`));
  if (parts.length === 1) return parts[0]!;
  return withNeed((e) => {
    for (const p of parts) if (!p(e)) return false;
    return true;
  }, needAnd(parts.map(selectionNeed)));
}

/** Keywords: a value matches when it occurs in any column of the event (Sigma's full-text search). */
function compileKeywords(key: string, values: unknown[], path: string): Predicate {
  const mods = key.split('|').slice(1);
  checkModifiers(mods, path);
  const usable = mods.filter((m) => m !== 'all');
  if (usable.some((m) => !['contains', 'cased', 'windash', 'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide', 're', 'i', 'm', 's'].includes(m))) {
    throw new SelectionError(`modifier(s) ${usable.join('|')} cannot apply to keywords (values without a field)`, path, 'unsupported');
  }
  // A keyword matches anywhere in a value: implicitly `contains`, unless it is a regular expression.
  const effective = usable.includes('re') || usable.includes('contains') ? mods : ['contains', ...mods];
  const matchers = values.map((v, i) => compileValue(v, effective, `${path}.${i}`, undefined));
  const all = mods.includes('all');
  const any = (e: Record<string, unknown>, m: ValueMatcher) => {
    for (const k in e) {
      if (k === 'Table' || k === 'ReportId') continue;
      if (m(e[k], e)) return true;
    }
    return false;
  };
  return (e) => all ? matchers.every((m) => any(e, m)) : matchers.some((m) => any(e, m));
}

function checkModifiers(mods: string[], path: string): void {
  for (const m of mods) {
    if (!(SUPPORTED_MODIFIERS as readonly string[]).includes(m)) {
      throw new SelectionError(`value modifier "${m}" is not supported (supported: ${SUPPORTED_MODIFIERS.join(', ')})`, path, 'unsupported');
    }
  }
  if (new Set(mods).size !== mods.length) throw new SelectionError(`a modifier is repeated in "${mods.join('|')}"`, path, 'schema');
}

function fieldGetter(ctx: SelectionContext, field: string, path: string): Getter {
  const g = ctx.mapping.resolve(ctx.table, field);
  if (typeof g === 'string') throw new SelectionError(g, path, 'field');
  if (g.reads === 'FileProfile') ctx.profileFields?.add(field);
  return g;
}

function compileField(key: string, raw: unknown, ctx: SelectionContext, path: string): Predicate {
  const [field, ...mods] = key.split('|');
  checkModifiers(mods, path);
  const get = fieldGetter(ctx, field!, path);
  const has = (m: string) => mods.includes(m);

  if (has('exists')) {
    if (typeof raw !== 'boolean' || mods.length !== 1) throw new SelectionError('"exists" takes true or false, alone', path, 'schema');
    return (e) => (get(e) !== undefined) === raw;
  }
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) throw new SelectionError('empty value list', path, 'schema');
  if (has('all') && values.length < 2) throw new SelectionError('"all" needs a list of two or more values', path, 'schema');

  let expanded = values;
  if (has('expand')) {
    expanded = values.flatMap((v, i) => {
      if (typeof v !== 'string') throw new SelectionError('"expand" applies to strings', `${path}.${i}`, 'schema');
      return expandPlaceholders(v, ctx.mapping.file.placeholders, `${path}${Array.isArray(raw) ? `.${i}` : ''}`);
    });
  }
  const refGetter = has('fieldref')
    ? (v: unknown, p: string) => {
      if (typeof v !== 'string') throw new SelectionError('"fieldref" takes field names', p, 'schema');
      return fieldGetter(ctx, v, p);
    }
    : undefined;
  const matchers = expanded.map((v, i) => {
    const p = `${path}${Array.isArray(raw) ? `.${i}` : ''}`;
    return compileValue(v, mods, p, refGetter && refGetter(v, p));
  });
  const neq = has('neq');
  const all = has('all') || neq; // neq: the field differs from every listed value
  // Necessary literals: every matcher's under `all`, one of them otherwise (neq: none).
  const lits = matchers.map((m) => valueNeeds.get(m));
  const litNeed = (l: string[] | undefined): Need => l ? { kind: 'lit', get, lits: l } : ANY;
  const need = neq ? ANY : all ? needAnd(lits.map(litNeed)) : needOr(lits.map(litNeed));
  const byName = fileNameFallback(get, mods, expanded);
  if (byName) {
    // `|endswith: '\name'` asks exactly "the file name is name": decided by the name column when
    // the full path was not recorded (ParentImage on tables that name only the parent's file).
    const [column, names] = byName;
    const any = (e: Record<string, unknown>, a: unknown) => {
      for (const m of matchers) if (m(a, e)) return true;
      return false;
    };
    // Necessary: the path's literal, or the name in the name column (read through its own getter).
    const nameGetter = ctx.mapping.resolve(ctx.table, column);
    const nameNeed: Need = typeof nameGetter !== 'string' && [...names].every(isAscii) ? { kind: 'lit', get: nameGetter, lits: [...names] } : ANY;
    return withNeed((e) => {
      const actual = get(e);
      if (actual !== undefined) return any(e, actual);
      const n = e[column];
      if (typeof n !== 'string') return false;
      // The column may hold a full path too (DeviceEvents: "name or full path").
      return names.has(n.slice(Math.max(n.lastIndexOf('\\'), n.lastIndexOf('/')) + 1).toLowerCase());
    }, needOr([need, nameNeed]));
  }
  if (matchers.length === 1) {
    const m = matchers[0]!;
    return withNeed((e) => m(get(e), e), need);
  }
  return withNeed((e) => {
    const actual = get(e);
    if (all) {
      for (const m of matchers) if (!m(actual, e)) return false;
      return true;
    }
    for (const m of matchers) if (m(actual, e)) return true;
    return false;
  }, need);
}

type ValueMatcher = (actual: unknown, event: Record<string, unknown>) => boolean;

/**
 * When `get` has a file-name column and the field is tested only with `endswith` on values of the
 * form `\name` (one path component, no wildcard), the names (lower-case) that decide it by that column.
 */
function fileNameFallback(get: Getter, mods: string[], values: unknown[]): [string, Set<string>] | undefined {
  if (!get.fileNameColumn || mods.length !== 1 || mods[0] !== 'endswith') return undefined;
  const names = new Set<string>();
  for (const v of values) {
    if (typeof v !== 'string' || !/^\\[^\\/*?]+$/.test(v)) return undefined;
    names.add(v.slice(1).toLowerCase());
  }
  return [get.fileNameColumn, names];
}

const TIME_PARTS = ['minute', 'hour', 'day', 'week', 'month', 'year'] as const;
const NUMERIC = ['gt', 'gte', 'lt', 'lte'] as const;

function compileValue(value: unknown, mods: string[], path: string, ref: Getter | undefined): ValueMatcher {
  const has = (m: string) => mods.includes(m);
  const neq = has('neq');
  const wrap = (m: ValueMatcher): ValueMatcher => neq ? (a, e) => a !== undefined && a !== null && !m(a, e) : m;

  if (value === null) {
    if (mods.some((m) => m !== 'all')) throw new SelectionError('null takes no value modifiers', path, 'schema');
    return (a) => a === undefined || a === null || a === '';
  }
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new SelectionError('values are strings, numbers, booleans or null', path, 'schema');
  }

  const timePart = TIME_PARTS.find((t) => has(t));
  const numeric = NUMERIC.find((n) => has(n));
  if (timePart || numeric) {
    const other = mods.filter((m) => !['all', 'neq', ...TIME_PARTS, ...NUMERIC].includes(m));
    if (other.length || mods.filter((m) => (NUMERIC as readonly string[]).includes(m)).length > 1 || mods.filter((m) => (TIME_PARTS as readonly string[]).includes(m)).length > 1) {
      throw new SelectionError(`"${mods.join('|')}" combines modifiers that do not go together`, path, 'unsupported');
    }
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n)) throw new SelectionError(`"${String(value)}" is not a number`, path, 'schema');
    const read = (a: unknown): number | undefined => {
      if (a === undefined || a === null || a === '') return undefined;
      if (timePart) return datePart(a, timePart);
      const x = typeof a === 'number' ? a : Number(a);
      return Number.isFinite(x) ? x : undefined;
    };
    const cmp = numeric ?? 'eq';
    return wrap((a) => {
      const x = read(a);
      if (x === undefined) return false;
      switch (cmp) {
        case 'gt': return x > n;
        case 'gte': return x >= n;
        case 'lt': return x < n;
        case 'lte': return x <= n;
        default: return x === n;
      }
    });
  }

  if (typeof value !== 'string') {
    // A number or boolean under string modifiers is matched as its text (`Details|contains: 1`).
    if (mods.some((m) => !['all', 'neq'].includes(m))) return compileValue(String(value), mods, path, ref);
    const text = String(value).toLowerCase();
    // A number also equals its text in another base (Sysmon's hex logon ids: 0x3e7 is 999).
    const num = typeof value === 'number' ? value : undefined;
    return wrap((a) => a === value || (a !== undefined && a !== null && (String(a).toLowerCase() === text
      || (num !== undefined && typeof a === 'string' && /^0x[0-9a-f]+$/i.test(a) && Number(a) === num))));
  }

  if (has('re')) {
    if (mods.some((m) => !['re', 'i', 'm', 's', 'all', 'neq'].includes(m))) throw new SelectionError('"re" takes only its flags i, m, s', path, 'unsupported');
    const re = compileRegex(value, (has('i') ? 'i' : '') + (has('m') ? 'm' : '') + (has('s') ? 's' : ''), path);
    const required = neq ? undefined : regexLiteral(re.source);
    const chain = regexPieces(re.source, re.flags);
    // The necessary literal first (lower-cased values are memoised): most values without it never
    // reach the regex; a regex of pieces and `.*` only, unless its pieces occur in order.
    const test = chain === undefined ? (s: string) => re.test(s)
      : chain.fold ? (s: string) => inOrder(lower(s), chain.pieces) && re.test(s)
        : (s: string) => inOrder(s, chain.pieces) && re.test(s);
    const matches: ValueMatcher = required === undefined
      ? (a) => a !== undefined && a !== null && test(String(a))
      : (a) => a !== undefined && a !== null && lower(a).includes(required) && test(String(a));
    return withLits(wrap(matches), required === undefined ? undefined : [required]);
  }
  if (['i', 'm', 's'].some(has)) throw new SelectionError('the flags i, m, s only apply to "re"', path, 'schema');
  if (has('cidr')) {
    if (mods.some((m) => !['cidr', 'all', 'neq'].includes(m))) throw new SelectionError('"cidr" cannot be combined with other value modifiers', path, 'unsupported');
    const test = compileCidr(value, path);
    return wrap((a) => typeof a === 'string' && test(a));
  }

  const ops = (['contains', 'startswith', 'endswith'] as const).filter(has);
  if (ops.length > 1) throw new SelectionError('use only one of contains, startswith, endswith', path, 'unsupported');
  const op = ops[0] ?? 'eq';

  if (ref) {
    if (mods.some((m) => !['fieldref', 'all', 'neq', 'cased', ...ops].includes(m))) throw new SelectionError('"fieldref" combines only with contains, startswith, endswith, cased, neq', path, 'unsupported');
    const cased = has('cased');
    return wrap((a, e) => {
      const b = ref(e);
      if (a === undefined || a === null || b === undefined || b === null) return false;
      const x = cased ? String(a) : String(a).toLowerCase();
      const y = cased ? String(b) : String(b).toLowerCase();
      return op === 'contains' ? x.includes(y) : op === 'startswith' ? x.startsWith(y) : op === 'endswith' ? x.endsWith(y) : x === y;
    });
  }

  // Encodings turn the value into bytes; the result is compared exactly (Base64 is case-sensitive).
  const encodings = mods.filter((m) => ['base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide'].includes(m));
  const utf = mods.filter((m) => ['utf16le', 'utf16be', 'utf16', 'wide'].includes(m));
  if (utf.length > 1) throw new SelectionError('use only one of utf16le, utf16be, utf16, wide', path, 'unsupported');
  if (has('base64') && has('base64offset')) throw new SelectionError('use only one of base64, base64offset', path, 'unsupported');
  if (has('base64offset') && op !== 'contains') throw new SelectionError('"base64offset" is only defined together with "contains"', path, 'unsupported');

  // Each variant: a list of literal pieces between `*` wildcards (`?` kept inside pieces as a regex).
  let variants: string[] = [value];
  if (has('windash')) variants = variants.flatMap(windashVariants);
  let exact = has('cased');
  let patterns: Pattern[];
  let encodedTexts: string[] = [];
  if (encodings.length) {
    exact = true;
    // Wildcards in an encoded value are not meaningful: the value is encoded as written (unescaped).
    const bytes = variants.map((v) => encode(unescape(v), utf[0]));
    const texts = has('base64offset') ? bytes.flatMap(base64OffsetVariants)
      : has('base64') ? bytes.map((b) => b.toString('base64'))
        : bytes.map((b) => b.toString('latin1'));
    encodedTexts = texts;
    patterns = texts.map((t) => literalPattern(t, op));
  } else {
    patterns = variants.map((v) => wildcardPattern(v, op, exact));
  }
  const fold = !exact;
  // Necessary literals: each variant's longest literal piece, as the pattern compares it. A
  // case-sensitive (or encoded) piece is only vouched for when ASCII, whose lower-casing does not
  // depend on the text around it.
  const pieces = encodings.length ? encodedTexts : variants.map(longestPiece);
  const need = !neq && (!exact || pieces.every(isAscii)) ? pieces.map((x) => x.toLowerCase()) : undefined;
  if (patterns.length === 1) {
    const p = patterns[0]!;
    return withLits(wrap((a) => {
      if (a === undefined || a === null) return false;
      const s = fold ? lower(a) : String(a);
      return p(s);
    }), need);
  }
  return withLits(wrap((a) => {
    if (a === undefined || a === null) return false;
    const s = fold ? lower(a) : String(a);
    for (const p of patterns) if (p(s)) return true;
    return false;
  }), need);
}

/**
 * A literal every match of the regular expression `source` contains (lower-cased), or undefined:
 * the longest run of plain characters outside any group, class or alternation, each not made
 * optional by a quantifier. Only ASCII is vouched for (its lower-casing does not depend on the
 * text around it), so the literal holds with and without the `i` flag. Anything unusual gives
 * up: an alternation at the top level, a backslash before a letter or digit (\w, \d, \x41 …).
 */
export function regexLiteral(source: string): string | undefined {
  let best = '';
  let run = '';
  let depth = 0;
  const end = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '\\') {
      if (next === undefined || /[A-Za-z0-9]/.test(next)) {
        end();
        i++;
        continue;
      }
      if (depth === 0) run += next;
      i++;
    } else if (c === '[') {
      // A class: skip to its closing bracket (escapes and a leading ] included).
      end();
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      i = j;
      continue;
    } else if (c === '(') {
      end();
      depth++;
      continue;
    } else if (c === ')') {
      end();
      depth = Math.max(0, depth - 1);
      continue;
    } else if (c === '|') {
      if (depth === 0) return undefined;
      continue;
    } else if ('.^$]}'.includes(c)) {
      end();
      continue;
    } else if (c === '*' || c === '?' || c === '{') {
      // The character before is optional (or repeated a number of times that may be 0).
      run = run.slice(0, -1);
      end();
      if (c === '{') {
        const q = /^\{\d*(,\d*)?\}/.exec(source.slice(i));
        if (q) i += q[0].length - 1;
      }
      continue;
    } else if (c === '+') {
      end();
      continue;
    } else if (depth === 0) run += c;
    else continue;
    // A quantifier right after an escaped or plain character applies to it.
    const q = source[i + 1];
    if (q === '*' || q === '?' || q === '{') {
      run = run.slice(0, -1);
      end();
    } else if (q === '+') end();
  }
  end();
  return best !== '' && isAscii(best) ? best.toLowerCase() : undefined;
}

/**
 * A regular expression that is only plain pieces joined by `.*` (no anchor, group, class or other
 * quantifier), e.g. `\+.*\+.*\+`: its pieces, each of which a match holds in this order
 * (`inOrder` is then necessary for a match, and cheap where the regex backtracks). With the `i`
 * flag, lower-cased and only when ASCII. Undefined otherwise.
 */
export function regexPieces(source: string, flags: string): { pieces: string[]; fold: boolean } | undefined {
  const pieces: string[] = [];
  let piece = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) return undefined;
      piece += next;
      i++;
    } else if (c === '.' && source[i + 1] === '*') {
      if (source[i + 2] === '?' || source[i + 2] === '+') return undefined;
      pieces.push(piece);
      piece = '';
      i++;
    } else if ('.^$|?*+()[]{}'.includes(c)) return undefined;
    else piece += c;
  }
  pieces.push(piece);
  const fold = flags.includes('i');
  const out = pieces.filter((p) => p !== '');
  if (out.length < 2 || (fold && !out.every(isAscii))) return undefined;
  return { pieces: fold ? out.map((p) => p.toLowerCase()) : out, fold };
}

/** True when `pieces` occur in `s` one after the other, without overlapping. */
function inOrder(s: string, pieces: readonly string[]): boolean {
  let at = 0;
  for (const p of pieces) {
    const i = s.indexOf(p, at);
    if (i < 0) return false;
    at = i + p.length;
  }
  return true;
}

/** The longest run of plain characters of a Sigma string value (between `*` / `?` wildcards). */
function longestPiece(v: string): string {
  let best = '';
  let lit = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && (v[i + 1] === '*' || v[i + 1] === '?' || v[i + 1] === '\\')) lit += v[++i];
    else if (c === '*' || c === '?') {
      if (lit.length > best.length) best = lit;
      lit = '';
    } else lit += c;
  }
  return lit.length > best.length ? lit : best;
}

type Pattern = (s: string) => boolean;

function literalPattern(t: string, op: string): Pattern {
  switch (op) {
    case 'contains': return (s) => s.includes(t);
    case 'startswith': return (s) => s.startsWith(t);
    case 'endswith': return (s) => s.endsWith(t);
    default: return (s) => s === t;
  }
}

/** Sigma string value: `*` and `?` are wildcards; `\*`, `\?`, `\\` are the plain characters. */
function wildcardPattern(v: string, op: string, cased: boolean): Pattern {
  const tokens: Array<{ lit: string } | { wild: '*' | '?' }> = [];
  let lit = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && (v[i + 1] === '*' || v[i + 1] === '?' || v[i + 1] === '\\')) {
      lit += v[++i];
    } else if (c === '*' || c === '?') {
      tokens.push({ lit }, { wild: c });
      lit = '';
    } else lit += c;
  }
  tokens.push({ lit });
  const norm = (s: string) => cased ? s : s.toLowerCase();
  const wilds = tokens.filter((t) => 'wild' in t);
  if (wilds.length === 0) return literalPattern(norm(lit), op);
  // Only `*` and only at the ends: still a literal test.
  const pieces = tokens.filter((t): t is { lit: string } => 'lit' in t).map((t) => norm(t.lit));
  if (wilds.every((w) => w.wild === '*') && pieces.length === 2) {
    const [a, b] = pieces as [string, string];
    if (a === '' && b === '') return () => true;
    if (a === '' && (op === 'endswith' || op === 'contains')) return (s) => s.includes(b);
    if (b === '' && (op === 'startswith' || op === 'contains')) return (s) => s.includes(a);
    if (a === '' && op === 'eq') return (s) => s.endsWith(b);
    if (b === '' && op === 'eq') return (s) => s.startsWith(a);
  }
  const body = tokens.map((t) => 'lit' in t ? escapeRe(norm(t.lit)) : t.wild === '*' ? '[\\s\\S]*' : '[\\s\\S]').join('');
  const re = new RegExp((op === 'contains' || op === 'endswith' ? '' : '^') + body + (op === 'contains' || op === 'startswith' ? '' : '$'));
  return (s) => re.test(s);
}

function unescape(v: string): string {
  return v.replace(/\\([*?\\])/g, '$1');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function encode(v: string, utf: string | undefined): Buffer {
  if (utf === undefined) return Buffer.from(v, 'utf8');
  const le = Buffer.from(v, 'utf16le');
  if (utf === 'utf16le' || utf === 'wide') return le;
  const be = Buffer.from(le);
  be.swap16();
  if (utf === 'utf16be') return be;
  return Buffer.concat([Buffer.from([0xff, 0xfe]), le]); // utf16: byte order mark, then little-endian
}

/**
 * PCRE as the specification restricts it, in JavaScript: a leading inline flag group such as
 * `(?i)` becomes a flag; constructs JavaScript reads differently are refused by name.
 */
function compileRegex(value: string, flags: string, path: string): RegExp {
  let body = value;
  const inline = /^\(\?([ims]+)\)/.exec(body);
  if (inline) {
    for (const f of inline[1]!) if (!flags.includes(f)) flags += f;
    body = body.slice(inline[0].length);
  }
  for (const [re, what] of [
    [/\(\?[imsx-]+[):]/, 'inline flag groups other than a leading (?i), (?m), (?s)'],
    [/\(\?>/, 'atomic groups'], [/[*+?}]\+/, 'possessive quantifiers'], [/\\[AZz]/, 'the anchors \\A, \\Z, \\z'],
    [/\(\?P?</, 'named groups'], [/\\Q/, '\\Q…\\E quoting'],
  ] as const) {
    if (re.test(body)) throw new SelectionError(`regular expression uses ${what}, which arcsim does not support`, path, 'unsupported');
  }
  try {
    return new RegExp(body, flags);
  } catch (err) {
    throw new SelectionError(`bad regular expression: ${(err as Error).message}`, path, 'schema');
  }
}

function datePart(a: unknown, part: (typeof TIME_PARTS)[number]): number | undefined {
  const d = new Date(typeof a === 'number' ? a : String(a));
  if (Number.isNaN(d.getTime())) return undefined;
  switch (part) {
    case 'minute': return d.getUTCMinutes();
    case 'hour': return d.getUTCHours();
    case 'day': return d.getUTCDate();
    case 'month': return d.getUTCMonth() + 1;
    case 'year': return d.getUTCFullYear();
    case 'week': {
      // ISO 8601 week number.
      const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
      const day = t.getUTCDay() || 7;
      t.setUTCDate(t.getUTCDate() + 4 - day);
      const y0 = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
      return Math.ceil(((t.getTime() - y0.getTime()) / 86_400_000 + 1) / 7);
    }
  }
}

/** `expand`: each `%name%` is replaced by each value the mapping file gives it (`\%` is a plain %). */
function expandPlaceholders(v: string, placeholders: Record<string, string[]>, path: string): string[] {
  let out = [''];
  const re = /\\%|%([A-Za-z0-9_.-]+)%|[^%\\]+|\\|%/g;
  for (const m of v.matchAll(re)) {
    if (m[0] === '\\%') out = out.map((o) => o + '%');
    else if (m[1] !== undefined) {
      const values = placeholders[m[1]];
      if (!values) throw new SelectionError(`placeholder %${m[1]}% has no values (define it under "placeholders" in the mapping file)`, path, 'unsupported');
      out = out.flatMap((o) => values.map((x) => o + x));
    } else out = out.map((o) => o + m[0]);
  }
  return out;
}

const DASHES = ['-', '/', '\u2013', '\u2014', '\u2015'];

/** `windash`: every `-`, `/`, en dash, em dash and horizontal bar, in every permutation of the five. */
function windashVariants(v: string): string[] {
  const positions: number[] = [];
  for (let i = 0; i < v.length; i++) if (DASHES.includes(v[i]!)) positions.push(i);
  if (positions.length > 6) throw new SelectionError(`"windash" on a value with ${positions.length} dashes (at most 6)`, '', 'unsupported');
  let out = [v];
  for (const pos of positions) out = out.flatMap((s) => DASHES.map((d) => s.slice(0, pos) + d + s.slice(pos + 1)));
  return [...new Set(out)];
}

/** `base64offset`: the three encodings of `v` at each byte offset, trimmed to their stable part. */
function base64OffsetVariants(v: Buffer): string[] {
  const start = [0, 2, 3];
  const endTrim = [0, 3, 2];
  return [0, 1, 2].map((i) => {
    const enc = Buffer.concat([Buffer.alloc(i, 0x20), v]).toString('base64');
    const trimEnd = endTrim[(v.length + i) % 3]!;
    return enc.slice(start[i], trimEnd ? enc.length - trimEnd : enc.length);
  });
}

function compileCidr(cidr: string, path: string): (ip: string) => boolean {
  const [base, bitsText, extra] = cidr.split('/');
  const bits = Number(bitsText);
  if (extra !== undefined || !/^\d{1,3}$/.test(bitsText ?? '')) throw new SelectionError(`"${cidr}" is not a CIDR range`, path, 'schema');
  const net = parseIp(base ?? '');
  if (!net || bits > (net.v6 ? 128 : 32)) throw new SelectionError(`"${cidr}" is not a CIDR range`, path, 'schema');
  const width = net.v6 ? 128n : 32n;
  const mask = bits === 0 ? 0n : ((1n << width) - 1n) ^ ((1n << (width - BigInt(bits))) - 1n);
  const want = net.n & mask;
  return (ip) => {
    const x = parseIp(ip);
    if (!x) return false;
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address.
    if (x.v6 !== net.v6) {
      if (!net.v6 && x.v6 && (x.n >> 32n) === 0xffffn) return ((x.n & 0xffffffffn) & mask) === want;
      return false;
    }
    return (x.n & mask) === want;
  };
}

function parseIp(s: string): { v6: boolean; n: bigint } | undefined {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return { v6: false, n: BigInt(v4) };
  const v6 = parseIPv6(s);
  return v6 === undefined ? undefined : { v6: true, n: v6 };
}

function parseIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

function parseIPv6(input: string): bigint | undefined {
  let s = input.replace(/%.*$/, '');
  if (!s.includes(':')) return undefined;
  // A trailing dotted IPv4 part is two groups.
  const dot = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dot) {
    const v4 = parseIPv4(dot[1]!);
    if (v4 === undefined) return undefined;
    s = s.slice(0, -dot[1]!.length) + `${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? head.length !== 8 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}
