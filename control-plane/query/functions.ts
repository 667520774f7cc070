import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  Timespan, compare, equals, isDynamic, parseDatetime, parseTimespan, toBool, toText, type Value,
} from './values.ts';

/**
 * Scalar functions, by Kusto's name. Semantics from Microsoft's KQL reference
 * (learn.microsoft.com/kusto/query/*-function); where arcsim departs it says so here.
 */
export type ScalarFn = (args: Value[], ctx: FnContext) => Value;
export interface FnContext { now: Date }

const num = (v: Value): number | null => {
  if (v === null) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.getTime();
  if (v instanceof Timespan) return v.ms;
  if (typeof v === 'string') { if (v.trim() === '') return null; const n = Number(v); return Number.isNaN(n) ? null : n; }
  return null;
};
const str = toText;

/** Kusto's term characters: ASCII letters and digits (the `has` index splits on everything else). */
export const isTermChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9]/.test(c);

/**
 * `has`: the needle is a whole term (or a run of terms) of the haystack, case-insensitive: it
 * starts and ends on term boundaries. Microsoft's string-operators page: "has" matches "North"
 * in "North America" but not "Nor".
 */
export function hasTerm(haystack: string, needle: string, caseSensitive = false, prefix = false, suffix = false): boolean {
  if (needle === '') return true;
  const h = caseSensitive ? haystack : haystack.toLowerCase();
  const n = caseSensitive ? needle : needle.toLowerCase();
  let at = h.indexOf(n);
  while (at >= 0) {
    const before = at === 0 || !isTermChar(n[0]) || !isTermChar(h[at - 1]);
    const afterAt = at + n.length;
    const after = afterAt === h.length || !isTermChar(n[n.length - 1]) || !isTermChar(h[afterAt]);
    if ((suffix || before) && (prefix || after)) return true;
    at = h.indexOf(n, at + 1);
  }
  return false;
}

function toDynamic(v: Value): Value {
  if (typeof v !== 'string') return v;
  try { return JSON.parse(v) as Value; } catch { return v; }
}

function regex(pattern: string, flags = ''): RegExp {
  // RE2 syntax is mostly JavaScript's; (?i) at the start is RE2's case-insensitive flag.
  let p = pattern;
  let f = flags;
  if (p.startsWith('(?i)')) { p = p.slice(4); f += 'i'; }
  return new RegExp(p, f);
}

function datePart(d: Date, part: string): number | null {
  switch (part.toLowerCase()) {
    case 'year': return d.getUTCFullYear();
    case 'quarter': return Math.floor(d.getUTCMonth() / 3) + 1;
    case 'month': return d.getUTCMonth() + 1;
    case 'week_of_year': case 'weekofyear': return isoWeek(d);
    case 'day': return d.getUTCDate();
    case 'dayofyear': return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
    case 'hour': return d.getUTCHours();
    case 'minute': return d.getUTCMinutes();
    case 'second': return d.getUTCSeconds();
    case 'millisecond': return d.getUTCMilliseconds();
    default: return null;
  }
}

function isoWeek(d: Date): number {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const y = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  return Math.ceil(((t.getTime() - y.getTime()) / 86_400_000 + 1) / 7);
}

const startOf = (unit: 'day' | 'week' | 'month' | 'year') => (a: Value[]): Value => {
  const d = toDate(a[0]!);
  if (!d) return null;
  const off = Number(num(a[1] ?? 0) ?? 0);
  const y = d.getUTCFullYear(); const m = d.getUTCMonth();
  switch (unit) {
    case 'day': return new Date(Date.UTC(y, m, d.getUTCDate() + off));
    case 'week': return new Date(Date.UTC(y, m, d.getUTCDate() - d.getUTCDay() + 7 * off));
    case 'month': return new Date(Date.UTC(y, m + off, 1));
    case 'year': return new Date(Date.UTC(y + off, 0, 1));
  }
};
const endOf = (unit: 'day' | 'week' | 'month' | 'year') => (a: Value[]): Value => {
  const next = startOf(unit)([a[0]!, (num(a[1] ?? 0) ?? 0) + 1]);
  return next instanceof Date ? new Date(next.getTime() - 0.0001) : null;
};

export function toDate(v: Value): Date | null {
  if (v instanceof Date) return v;
  if (typeof v === 'string') return parseDatetime(v) ?? null;
  if (typeof v === 'number') return new Date(v);
  return null;
}

function binValue(v: Value, size: Value): Value {
  if (v === null || size === null) return null;
  if (v instanceof Date) {
    const s = size instanceof Timespan ? size.ms : num(size);
    return s ? new Date(Math.floor(v.getTime() / s) * s) : null;
  }
  if (v instanceof Timespan) {
    const s = size instanceof Timespan ? size.ms : num(size);
    return s ? new Timespan(Math.floor(v.ms / s) * s) : null;
  }
  const n = num(v); const s = num(size);
  return n === null || !s ? null : Math.floor(n / s) * s;
}

const UNITS_MS: Record<string, number> = {
  week: 604_800_000, day: 86_400_000, hour: 3_600_000, minute: 60_000, second: 1000, millisecond: 1,
};

function datetimeDiff(part: string, a: Date, b: Date): number | null {
  const p = part.toLowerCase();
  if (p === 'year') return a.getUTCFullYear() - b.getUTCFullYear();
  if (p === 'quarter') return (a.getUTCFullYear() - b.getUTCFullYear()) * 4 + Math.floor(a.getUTCMonth() / 3) - Math.floor(b.getUTCMonth() / 3);
  if (p === 'month') return (a.getUTCFullYear() - b.getUTCFullYear()) * 12 + a.getUTCMonth() - b.getUTCMonth();
  const unit = UNITS_MS[p];
  if (!unit) return null;
  // Weeks start on Sunday; the Unix epoch was a Thursday, 4 days after one.
  if (p === 'week') return Math.floor((a.getTime() + 4 * 86_400_000) / unit) - Math.floor((b.getTime() + 4 * 86_400_000) / unit);
  // Kusto counts boundaries crossed: truncate both to the unit, then subtract.
  return Math.floor(a.getTime() / unit) - Math.floor(b.getTime() / unit);
}

function datetimeAdd(part: string, amount: number, d: Date): Date | null {
  const p = part.toLowerCase();
  const r = new Date(d.getTime());
  if (p === 'year') { r.setUTCFullYear(r.getUTCFullYear() + amount); return r; }
  if (p === 'quarter') { r.setUTCMonth(r.getUTCMonth() + 3 * amount); return r; }
  if (p === 'month') { r.setUTCMonth(r.getUTCMonth() + amount); return r; }
  const unit = UNITS_MS[p];
  return unit ? new Date(d.getTime() + amount * unit) : null;
}

/** format_datetime: the .NET-style specifiers Kusto documents (yyyy, MM, dd, HH, mm, ss, fff, tt ...). */
function formatDt(d: Date, fmt: string): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const h = d.getUTCHours();
  return fmt.replace(/yyyy|yy|MM|M|dd|d|HH|H|hh|h|mm|m|ss|s|fffffff|ffffff|fffff|ffff|fff|ff|f|tt/g, (t) => {
    switch (t) {
      case 'yyyy': return p(d.getUTCFullYear(), 4);
      case 'yy': return p(d.getUTCFullYear() % 100);
      case 'MM': return p(d.getUTCMonth() + 1);
      case 'M': return String(d.getUTCMonth() + 1);
      case 'dd': return p(d.getUTCDate());
      case 'd': return String(d.getUTCDate());
      case 'HH': return p(h);
      case 'H': return String(h);
      case 'hh': return p(h % 12 || 12);
      case 'h': return String(h % 12 || 12);
      case 'mm': return p(d.getUTCMinutes());
      case 'm': return String(d.getUTCMinutes());
      case 'ss': return p(d.getUTCSeconds());
      case 's': return String(d.getUTCSeconds());
      case 'tt': return h < 12 ? 'AM' : 'PM';
      default: return (p(d.getUTCMilliseconds(), 3) + '0000').slice(0, t.length);
    }
  });
}

function ipv4ToNumber(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((x) => x > 255)) return null;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function ipv4Prefix(text: string): { base: number; bits: number } | null {
  const [addr, bitsText] = text.split('/');
  const base = ipv4ToNumber(addr ?? '');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (base === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return null;
  return { base, bits };
}

function ipv4InRange(ip: string, range: string): boolean | null {
  const a = ipv4ToNumber(ip); const r = ipv4Prefix(range);
  if (a === null || !r) return null;
  const mask = r.bits === 0 ? 0 : (0xffffffff << (32 - r.bits)) >>> 0;
  return ((a & mask) >>> 0) === ((r.base & mask) >>> 0);
}

/** RFC 1918 plus loopback-free private ranges, as ipv4_is_private documents them. */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

function parseUrl(text: string): Value {
  try {
    const u = new URL(text);
    const query: Record<string, Value> = {};
    u.searchParams.forEach((v, k) => { query[k] = v; });
    return {
      Scheme: u.protocol.replace(/:$/, ''), Host: u.hostname, Port: u.port, Path: u.pathname,
      Username: u.username, Password: u.password, 'Query Parameters': query, Fragment: u.hash.replace(/^#/, ''),
    };
  } catch {
    return {};
  }
}

function parsePath(text: string): Value {
  const sep = text.includes('\\') ? '\\' : '/';
  const idx = text.lastIndexOf(sep);
  const filename = idx >= 0 ? text.slice(idx + 1) : text;
  const dot = filename.lastIndexOf('.');
  return {
    Scheme: '', RootPath: /^[A-Za-z]:/.test(text) ? text.slice(0, 2) : '', DirectoryPath: idx >= 0 ? text.slice(0, idx) : '',
    DirectoryName: idx >= 0 ? text.slice(0, idx).split(sep).pop() ?? '' : '', Filename: filename,
    Extension: dot > 0 ? filename.slice(dot + 1) : '', AlternateDataStreamName: '',
  };
}

function splitValue(s: string, delim: string, index: Value): Value {
  const parts = delim === '' ? [s] : s.split(delim);
  if (index === null || index === undefined) return parts;
  const i = num(index);
  return i === null || i < 0 || i >= parts.length ? [] : [parts[i]!];
}

function getIn(v: Value, key: Value): Value {
  const d = toDynamic(v);
  if (Array.isArray(d)) {
    const i = num(key);
    if (i === null) return null;
    const at = i < 0 ? d.length + i : i;
    return d[at] ?? null;
  }
  if (isDynamic(d)) return propertyOf(d, toText(key));
  return null;
}

/**
 * A property of a dynamic object: the exact name first, else the one name that differs only in
 * case (Azure Resource Graph users write `properties.Severity` for ARM's `severity`; REFERENCE.md).
 */
export function propertyOf(o: { [key: string]: Value }, name: string): Value {
  if (Object.prototype.hasOwnProperty.call(o, name)) return o[name] ?? null;
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k] ?? null;
  return null;
}

export { getIn, toDynamic };

const round = (v: number, digits: number) => { const f = 10 ** digits; return Math.round(v * f) / f; };

const hash = (alg: string) => (a: Value[]) => createHash(alg).update(str(a[0]!)).digest('hex');

export const FUNCTIONS: Record<string, ScalarFn> = {
  // Strings.
  strlen: (a) => str(a[0]!).length,
  tolower: (a) => str(a[0]!).toLowerCase(),
  toupper: (a) => str(a[0]!).toUpperCase(),
  trim: (a) => { const r = regex(`^(?:${str(a[0]!)})+|(?:${str(a[0]!)})+$`, 'g'); return str(a[1]!).replace(r, ''); },
  trim_start: (a) => str(a[1]!).replace(regex(`^(?:${str(a[0]!)})+`), ''),
  trim_end: (a) => str(a[1]!).replace(regex(`(?:${str(a[0]!)})+$`), ''),
  strcat: (a) => a.map(str).join(''),
  strcat_delim: (a) => a.slice(1).map(str).join(str(a[0]!)),
  substring: (a) => {
    const s = str(a[0]!); const start = Math.max(0, num(a[1]!) ?? 0);
    return a[2] === undefined ? s.slice(start) : s.substr(start, Math.max(0, num(a[2]) ?? 0));
  },
  indexof: (a) => {
    const s = str(a[0]!); const start = num(a[2] ?? 0) ?? 0;
    return start > s.length ? -1 : s.indexOf(str(a[1]!), start);
  },
  replace_string: (a) => str(a[0]!).split(str(a[1]!)).join(str(a[2]!)),
  replace_regex: (a) => str(a[0]!).replace(regex(str(a[1]!), 'g'), str(a[2]!).replace(/\\(\d)/g, '$$$1')),
  replace: (a) => str(a[2]!).replace(regex(str(a[0]!), 'g'), str(a[1]!).replace(/\\(\d)/g, '$$$1')),
  reverse: (a) => [...str(a[0]!)].reverse().join(''),
  split: (a) => splitValue(str(a[0]!), str(a[1]!), a[2] ?? null),
  countof: (a) => {
    const s = str(a[0]!); const p = str(a[1]!);
    if (a[2] !== undefined && str(a[2]) === 'regex') return (s.match(regex(p, 'g')) ?? []).length;
    if (!p) return 0;
    let n = 0; let at = s.indexOf(p);
    while (at >= 0) { n++; at = s.indexOf(p, at + p.length); }
    return n;
  },
  extract: (a) => {
    const m = regex(str(a[0]!)).exec(str(a[2]!));
    const g = num(a[1]!) ?? 0;
    return m ? m[g] ?? '' : '';
  },
  extract_all: (a) => {
    const hasGroups = a.length === 3 && Array.isArray(a[1]);
    const text = str(a[a.length - 1]!);
    const r = regex(str(a[0]!), 'g');
    const out: Value[] = [];
    for (const m of text.matchAll(r)) {
      if (hasGroups) out.push((a[1] as Value[]).map((g) => m[num(g) ?? 0] ?? ''));
      else if (m.length > 2) out.push(m.slice(1).map((x) => x ?? ''));
      else out.push(m[1] ?? m[0]);
    }
    return out;
  },
  base64_decode_tostring: (a) => Buffer.from(str(a[0]!), 'base64').toString('utf8'),
  base64_decodestring: (a) => Buffer.from(str(a[0]!), 'base64').toString('utf8'),
  base64_encode_tostring: (a) => Buffer.from(str(a[0]!), 'utf8').toString('base64'),
  base64_encodestring: (a) => Buffer.from(str(a[0]!), 'utf8').toString('base64'),
  url_decode: (a) => { try { return decodeURIComponent(str(a[0]!).replace(/\+/g, ' ')); } catch { return str(a[0]!); } },
  url_encode: (a) => encodeURIComponent(str(a[0]!)),
  url_encode_component: (a) => encodeURIComponent(str(a[0]!)),
  parse_url: (a) => parseUrl(str(a[0]!)),
  parse_path: (a) => parsePath(str(a[0]!)),
  parse_command_line: (a) => str(a[0]!).match(/"[^"]*"|\S+/g)?.map((x) => x.replace(/^"|"$/g, '')) ?? [],
  hash_sha256: hash('sha256'),
  hash_md5: hash('md5'),
  hash_sha1: hash('sha1'),
  isascii: (a) => /^[\x00-\x7f]*$/.test(str(a[0]!)),
  // Emptiness and nulls.
  isempty: (a) => a[0] === null || a[0] === '',
  isnotempty: (a) => !(a[0] === null || a[0] === ''),
  isnull: (a) => a[0] === null,
  isnotnull: (a) => a[0] !== null,
  isnan: (a) => typeof a[0] === 'number' && Number.isNaN(a[0]),
  isfinite: (a) => typeof a[0] === 'number' && Number.isFinite(a[0]),
  coalesce: (a) => a.find((v) => v !== null && v !== '') ?? (a.some((v) => v === '') ? '' : null),
  iff: (a) => (toBool(a[0]!) ? a[1]! : a[2]!),
  iif: (a) => (toBool(a[0]!) ? a[1]! : a[2]!),
  case: (a) => {
    for (let i = 0; i + 1 < a.length; i += 2) if (toBool(a[i]!)) return a[i + 1]!;
    return a.length % 2 === 1 ? a[a.length - 1]! : null;
  },
  not: (a) => { const b = toBool(a[0]!); return b === null ? null : !b; },
  // Conversions.
  tostring: (a) => str(a[0]!),
  toint: (a) => { const n = num(a[0]!); return n === null ? null : Math.trunc(n); },
  tolong: (a) => { const n = num(a[0]!); return n === null ? null : Math.trunc(n); },
  toreal: (a) => num(a[0]!),
  todouble: (a) => num(a[0]!),
  todecimal: (a) => num(a[0]!),
  tobool: (a) => toBool(a[0]!),
  toboolean: (a) => toBool(a[0]!),
  todatetime: (a) => toDate(a[0]!),
  totimespan: (a) => (a[0] instanceof Timespan ? a[0] : typeof a[0] === 'string' ? parseTimespan(a[0]) ?? null : typeof a[0] === 'number' ? new Timespan(a[0] / 10_000) : null),
  toguid: (a) => (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(str(a[0]!)) ? str(a[0]!).toLowerCase() : null),
  todynamic: (a) => toDynamic(a[0]!),
  parse_json: (a) => toDynamic(a[0]!),
  extractjson: (a) => asType(jsonPath(str(a[0]!), toDynamic(a[1]!)), a[2]),
  extract_json: (a) => asType(jsonPath(str(a[0]!), toDynamic(a[1]!)), a[2]),
  gettype: (a) => {
    const v = a[0]!;
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (v instanceof Date) return 'datetime';
    if (v instanceof Timespan) return 'timespan';
    if (typeof v === 'object') return 'dictionary';
    if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'real';
    return typeof v === 'boolean' ? 'bool' : 'string';
  },
  // Numbers.
  abs: (a) => { const n = num(a[0]!); return n === null ? null : Math.abs(n); },
  round: (a) => { const n = num(a[0]!); return n === null ? null : round(n, num(a[1] ?? 0) ?? 0); },
  floor: (a) => binValue(a[0]!, a[1]!),
  bin: (a) => binValue(a[0]!, a[1]!),
  ceiling: (a) => { const n = num(a[0]!); return n === null ? null : Math.ceil(n); },
  sqrt: (a) => { const n = num(a[0]!); return n === null ? null : Math.sqrt(n); },
  log: (a) => { const n = num(a[0]!); return n === null ? null : Math.log(n); },
  log10: (a) => { const n = num(a[0]!); return n === null ? null : Math.log10(n); },
  log2: (a) => { const n = num(a[0]!); return n === null ? null : Math.log2(n); },
  exp: (a) => { const n = num(a[0]!); return n === null ? null : Math.exp(n); },
  pow: (a) => { const x = num(a[0]!); const y = num(a[1]!); return x === null || y === null ? null : x ** y; },
  max_of: (a) => a.filter((v) => v !== null).reduce<Value>((m, v) => (m === null || (compare(v, m) ?? 0) > 0 ? v : m), null),
  min_of: (a) => a.filter((v) => v !== null).reduce<Value>((m, v) => (m === null || (compare(v, m) ?? 0) < 0 ? v : m), null),
  rand: (a) => (a[0] === undefined ? Math.random() : Math.floor(Math.random() * (num(a[0]) ?? 1))),
  // Time.
  now: (a, ctx) => (a[0] instanceof Timespan ? new Date(ctx.now.getTime() + a[0].ms) : ctx.now),
  ago: (a, ctx) => (a[0] instanceof Timespan ? new Date(ctx.now.getTime() - a[0].ms) : null),
  datetime_diff: (a) => {
    const x = toDate(a[1]!); const y = toDate(a[2]!);
    return x && y ? datetimeDiff(str(a[0]!), x, y) : null;
  },
  datetime_add: (a) => {
    const d = toDate(a[2]!); const n = num(a[1]!);
    return d && n !== null ? datetimeAdd(str(a[0]!), n, d) : null;
  },
  datetime_part: (a) => { const d = toDate(a[1]!); return d ? datePart(d, str(a[0]!)) : null; },
  format_datetime: (a) => { const d = toDate(a[0]!); return d ? formatDt(d, str(a[1]!)) : ''; },
  format_timespan: (a) => (a[0] instanceof Timespan ? toText(a[0]) : ''),
  startofday: startOf('day'), startofweek: startOf('week'), startofmonth: startOf('month'), startofyear: startOf('year'),
  endofday: endOf('day'), endofweek: endOf('week'), endofmonth: endOf('month'), endofyear: endOf('year'),
  dayofweek: (a) => { const d = toDate(a[0]!); return d ? new Timespan(d.getUTCDay() * 86_400_000) : null; },
  dayofmonth: (a) => { const d = toDate(a[0]!); return d ? d.getUTCDate() : null; },
  dayofyear: (a) => { const d = toDate(a[0]!); return d ? datePart(d, 'dayofyear') : null; },
  hourofday: (a) => { const d = toDate(a[0]!); return d ? d.getUTCHours() : null; },
  getmonth: (a) => { const d = toDate(a[0]!); return d ? d.getUTCMonth() + 1 : null; },
  monthofyear: (a) => { const d = toDate(a[0]!); return d ? d.getUTCMonth() + 1 : null; },
  getyear: (a) => { const d = toDate(a[0]!); return d ? d.getUTCFullYear() : null; },
  week_of_year: (a) => { const d = toDate(a[0]!); return d ? isoWeek(d) : null; },
  unixtime_seconds_todatetime: (a) => { const n = num(a[0]!); return n === null ? null : new Date(n * 1000); },
  unixtime_milliseconds_todatetime: (a) => { const n = num(a[0]!); return n === null ? null : new Date(n); },
  // Dynamic values.
  array_length: (a) => { const d = toDynamic(a[0]!); return Array.isArray(d) ? d.length : null; },
  array_concat: (a) => a.flatMap((v) => { const d = toDynamic(v); return Array.isArray(d) ? d : []; }),
  array_slice: (a) => {
    const d = toDynamic(a[0]!); if (!Array.isArray(d)) return null;
    const len = d.length; let s = num(a[1]!) ?? 0; let e = num(a[2]!) ?? len - 1;
    if (s < 0) s += len; if (e < 0) e += len;
    return d.slice(s, e + 1);
  },
  array_index_of: (a) => { const d = toDynamic(a[0]!); return Array.isArray(d) ? d.findIndex((x) => equals(x, a[1]!) === true) : null; },
  array_sort_asc: (a) => { const d = toDynamic(a[0]!); return Array.isArray(d) ? [...d].sort((x, y) => compare(x, y) ?? 0) : null; },
  array_sort_desc: (a) => { const d = toDynamic(a[0]!); return Array.isArray(d) ? [...d].sort((x, y) => compare(y, x) ?? 0) : null; },
  array_strcat: (a) => { const d = toDynamic(a[0]!); return Array.isArray(d) ? d.map(str).join(str(a[1]!)) : null; },
  array_sum: (a) => { const d = toDynamic(a[0]!); return Array.isArray(d) ? d.reduce<number>((s, x) => s + (num(x) ?? 0), 0) : null; },
  set_has_element: (a) => { const d = toDynamic(a[0]!); return Array.isArray(d) ? d.some((x) => equals(x, a[1]!) === true) : null; },
  set_union: (a) => dedupe(a.flatMap((v) => { const d = toDynamic(v); return Array.isArray(d) ? d : []; })),
  set_intersect: (a) => {
    const arrays = a.map((v) => { const d = toDynamic(v); return Array.isArray(d) ? d : []; });
    return dedupe(arrays[0] ?? []).filter((x) => arrays.every((arr) => arr.some((y) => equals(x, y) === true)));
  },
  set_difference: (a) => {
    const arrays = a.map((v) => { const d = toDynamic(v); return Array.isArray(d) ? d : []; });
    return dedupe(arrays[0] ?? []).filter((x) => arrays.slice(1).every((arr) => !arr.some((y) => equals(x, y) === true)));
  },
  pack: (a) => pack(a),
  bag_pack: (a) => pack(a),
  pack_array: (a) => [...a],
  bag_keys: (a) => { const d = toDynamic(a[0]!); return isDynamic(d) && !Array.isArray(d) ? Object.keys(d) : null; },
  bag_merge: (a) => Object.assign({}, ...a.map(toDynamic).filter((d) => isDynamic(d) && !Array.isArray(d)).reverse()),
  bag_remove_keys: (a) => {
    const d = toDynamic(a[0]!); const keys = toDynamic(a[1]!);
    if (!isDynamic(d) || Array.isArray(d)) return null;
    const out = { ...d };
    if (Array.isArray(keys)) for (const k of keys) delete out[str(k)];
    return out;
  },
  bag_has_key: (a) => { const d = toDynamic(a[0]!); return isDynamic(d) && !Array.isArray(d) ? Object.prototype.hasOwnProperty.call(d, str(a[1]!)) : null; },
  // IP addresses.
  ipv4_is_private: (a) => { const ip = str(a[0]!); return ipv4ToNumber(ip) === null ? null : PRIVATE.some((r) => ipv4InRange(ip, r)); },
  ipv4_is_in_range: (a) => ipv4InRange(str(a[0]!), str(a[1]!)),
  ipv4_is_in_any_range: (a) => {
    const ranges = a.slice(1).flatMap((v) => (Array.isArray(v) ? v.map(str) : [str(v)]));
    return ranges.some((r) => ipv4InRange(str(a[0]!), r) === true);
  },
  ipv4_is_match: (a) => {
    const r = ipv4Prefix(str(a[1]!)); const x = ipv4Prefix(str(a[0]!));
    if (!r || !x) return null;
    const bits = Math.min(r.bits, x.bits, a[2] === undefined ? 32 : num(a[2]) ?? 32);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ((x.base & mask) >>> 0) === ((r.base & mask) >>> 0);
  },
  ipv4_compare: (a) => {
    const x = ipv4ToNumber(str(a[0]!)); const y = ipv4ToNumber(str(a[1]!));
    return x === null || y === null ? null : Math.sign(x - y);
  },
  parse_ipv4: (a) => ipv4ToNumber(str(a[0]!)),
  ipv6_is_match: (a) => str(a[0]!).toLowerCase() === str(a[1]!).toLowerCase(),
  isipv4: (a) => isIPv4(str(a[0]!)),
  isipv6: (a) => isIPv6(str(a[0]!)),
  // Miscellaneous.
  strrep: (a) => str(a[0]!).repeat(Math.max(0, num(a[1]!) ?? 0)) ,
  new_guid: () => crypto.randomUUID(),
  tohex: (a) => { const n = num(a[0]!); return n === null ? null : Math.trunc(n).toString(16); },
  zip: (a) => {
    const arrays = a.map((v) => { const d = toDynamic(v); return Array.isArray(d) ? d : []; });
    const len = Math.max(0, ...arrays.map((x) => x.length));
    return Array.from({ length: len }, (_, i) => arrays.map((x) => x[i] ?? null));
  },
};
FUNCTIONS.datetime_now = FUNCTIONS.now!;
FUNCTIONS.make_datetime = (a) => {
  const n = a.map((v) => num(v) ?? 0);
  return new Date(Date.UTC(n[0]!, (n[1] ?? 1) - 1, n[2] ?? 1, n[3] ?? 0, n[4] ?? 0, n[5] ?? 0));
};

/** extract_json's optional `typeof(T)` third argument: the value converted to T. */
function asType(v: Value, type: Value | undefined): Value {
  if (type === undefined || type === null || v === null) return v;
  switch (str(type)) {
    case 'string': return str(v);
    case 'long': case 'int': { const n = num(v); return n === null ? null : Math.trunc(n); }
    case 'real': case 'double': return num(v);
    case 'bool': case 'boolean': return toBool(v);
    case 'datetime': return toDate(v);
    case 'dynamic': return toDynamic(v);
    default: return v;
  }
}

/** extract_json's JSONPath: `$`, `.name`, `['name']`, `[index]` (the subset Kusto documents). */
function jsonPath(path: string, doc: Value): Value {
  let v: Value = doc;
  const steps = path.replace(/^\$/, '').match(/\.[^.[\]]+|\[(?:'[^']*'|"[^"]*"|\d+)\]/g) ?? [];
  for (const s of steps) {
    if (v === null) return null;
    const key = s.startsWith('.') ? s.slice(1) : s.slice(1, -1).replace(/^['"]|['"]$/g, '');
    v = getIn(v, /^\d+$/.test(key) && Array.isArray(v) ? Number(key) : key);
  }
  return isDynamic(v) ? JSON.stringify(v) : v;
}

function pack(a: Value[]): Value {
  const out: Record<string, Value> = {};
  for (let i = 0; i + 1 < a.length; i += 2) out[str(a[i]!)] = a[i + 1]!;
  return out;
}

function dedupe(values: Value[]): Value[] {
  const seen = new Set<string>();
  return values.filter((v) => { const k = JSON.stringify(v); if (seen.has(k)) return false; seen.add(k); return true; });
}
