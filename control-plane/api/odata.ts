import { protocolError } from '../../protocol/index.ts';

/*
 * The part of OData v4 query options Microsoft Graph's security API takes on alerts_v2 and
 * incidents: `$filter` with eq, ne, gt, ge, lt, le, and, or, not-free parentheses; string
 * ('it''s'), number, true/false/null and unquoted date-time literals; `$orderby` (prop [asc|desc],
 * ...); `$top`, `$skip`. Filters run over the rendered Graph records, on the properties the route
 * allows (Graph documents which are filterable).
 */

type Literal = string | number | boolean | null;
export type Filter =
  | { op: 'and' | 'or'; left: Filter; right: Filter }
  | { op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; property: string; value: Literal };

const COMPARISONS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

function bad(message: string, path = 'query.$filter'): never {
  throw protocolError('ARCSIM_E_VALIDATION', `${path}: ${message}`, path);
}

/** Tokens: names, strings, numbers, date-times, parentheses. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(?:('(?:[^']|'')*')|(\()|(\))|([^\s()']+))/y;
  let pos = 0;
  const end = text.trimEnd().length;
  while (pos < end) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) bad(`cannot read it from position ${pos + 1} (an unclosed string?)`);
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
    pos = re.lastIndex;
  }
  return tokens;
}

function literal(token: string): Literal {
  if (token.startsWith("'")) return token.slice(1, -1).replace(/''/g, "'");
  if (token === 'true') return true;
  if (token === 'false') return false;
  if (token === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(token)) return Number(token);
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(token)) return token;
  return bad(`${token} is not a literal: quote strings ('high'), numbers and date-times unquoted`);
}

/** Parses `$filter`; `properties` are the ones that may be filtered on (others are refused, naming them). */
export function parseFilter(text: string, properties: readonly string[]): Filter {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++] ?? bad('ends too early');
  const primary = (): Filter => {
    if (peek() === '(') {
      next();
      const inner = or();
      if (next() !== ')') bad('a ( is not closed');
      return inner;
    }
    const property = next();
    if (!properties.includes(property)) bad(`${property} cannot be filtered on; filterable: ${properties.join(', ')}`);
    const op = next();
    if (!COMPARISONS.has(op)) bad(`${op} is not a supported operator (eq, ne, gt, ge, lt, le, and, or)`);
    return { op: op as 'eq', property, value: literal(next()) };
  };
  const and = (): Filter => {
    let left = primary();
    while (peek() === 'and') {
      next();
      left = { op: 'and', left, right: primary() };
    }
    return left;
  };
  const or = (): Filter => {
    let left = and();
    while (peek() === 'or') {
      next();
      left = { op: 'or', left, right: and() };
    }
    return left;
  };
  const filter = or();
  if (i < tokens.length) bad(`unexpected ${tokens[i]}`);
  return filter;
}

/** Order of enum members where Graph compares by member value (severity). */
export type EnumOrders = Record<string, readonly string[]>;

function compare(a: unknown, b: Literal, enumOrder?: readonly string[]): number | undefined {
  if (a === null || a === undefined || b === null) return undefined;
  if (enumOrder) {
    const x = enumOrder.indexOf(String(a));
    const y = enumOrder.indexOf(String(b));
    if (x >= 0 && y >= 0) return x - y;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const da = typeof a === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(a) ? Date.parse(a) : NaN;
  const db = typeof b === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(b) ? Date.parse(b) : NaN;
  if (!Number.isNaN(da) && !Number.isNaN(db)) return da - db;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Whether `record` passes `filter` (string comparisons are case-sensitive, as Graph's). */
export function matches(record: Record<string, unknown>, filter: Filter, enums: EnumOrders = {}): boolean {
  switch (filter.op) {
    case 'and':
      return matches(record, filter.left, enums) && matches(record, filter.right, enums);
    case 'or':
      return matches(record, filter.left, enums) || matches(record, filter.right, enums);
    default: {
      const v = record[filter.property];
      if (filter.op === 'eq') return filter.value === null ? v === null || v === undefined : compare(v, filter.value, enums[filter.property]) === 0;
      if (filter.op === 'ne') return filter.value === null ? v !== null && v !== undefined : compare(v, filter.value, enums[filter.property]) !== 0;
      const c = compare(v, filter.value, enums[filter.property]);
      if (c === undefined) return false;
      return filter.op === 'gt' ? c > 0 : filter.op === 'ge' ? c >= 0 : filter.op === 'lt' ? c < 0 : c <= 0;
    }
  }
}

/** Parses `$orderby` (`prop [asc|desc], ...`) over the allowed properties. */
export function parseOrderBy(text: string, properties: readonly string[]): Array<{ property: string; desc: boolean }> {
  return text.split(',').map((part) => {
    const [property, dir, extra] = part.trim().split(/\s+/);
    if (!property || !properties.includes(property)) bad(`${property ?? ''} cannot be ordered by; orderable: ${properties.join(', ')}`, 'query.$orderby');
    if (extra !== undefined || (dir !== undefined && dir !== 'asc' && dir !== 'desc')) bad(`write "property asc" or "property desc"`, 'query.$orderby');
    return { property, desc: dir === 'desc' };
  });
}

/** Sorts records by the order (stable; missing values last). */
export function sortBy<T extends Record<string, unknown>>(records: T[], order: Array<{ property: string; desc: boolean }>, enums: EnumOrders = {}): T[] {
  return [...records].sort((a, b) => {
    for (const o of order) {
      const av = a[o.property];
      const bv = b[o.property];
      if (av === bv) continue;
      if (av === null || av === undefined) return 1;
      if (bv === null || bv === undefined) return -1;
      const c = compare(av, bv as Literal, enums[o.property]) ?? 0;
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  });
}
