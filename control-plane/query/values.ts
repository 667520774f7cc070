/**
 * KQL scalar values in JavaScript. string → string (Kusto strings are never null: a missing one
 * is ""), long / int / real → number, bool → boolean, datetime → Date, timespan → Timespan,
 * guid → string, dynamic → plain JSON (array, object, or a scalar inside one); null is null.
 * Kusto's clock has 100 ns ticks; arcsim's has milliseconds.
 */
export class Timespan {
  constructor(readonly ms: number) {}
  toJSON(): string { return formatTimespan(this.ms); }
  toString(): string { return formatTimespan(this.ms); }
}

export type Value = string | number | boolean | Date | Timespan | null | Value[] | { [key: string]: Value };
export type Row = Record<string, Value>;

/** Kusto's scalar type names, as the Schema of a result names them. */
export type KqlType = 'string' | 'long' | 'int' | 'real' | 'bool' | 'datetime' | 'timespan' | 'dynamic' | 'guid' | 'decimal';

export interface Column { name: string; type: KqlType }

export function isDynamic(v: Value): v is Value[] | { [key: string]: Value } {
  return v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Timespan);
}

export function typeOfValue(v: Value): KqlType | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'real';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Date) return 'datetime';
  if (v instanceof Timespan) return 'timespan';
  return 'dynamic';
}

const UNIT_MS: Record<string, number> = {
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000,
  s: 1000, sec: 1000, second: 1000, seconds: 1000,
  ms: 1, milli: 1, millis: 1, millisecond: 1, milliseconds: 1,
  microsecond: 0.001, microseconds: 0.001, tick: 0.0001, ticks: 0.0001,
};

/** `1d`, `1.5h`, `30m`, `100ms`, `time(1.02:03:04)`, `timespan(2d)`, `time(null)`; undefined when not one. */
export function parseTimespan(text: string): Timespan | null | undefined {
  let t = text.trim();
  const wrapped = /^(?:time|timespan)\s*\((.*)\)$/is.exec(t);
  if (wrapped) t = wrapped[1]!.trim();
  if (t === 'null') return null;
  const unit = /^(-?\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(t);
  if (unit) {
    const ms = UNIT_MS[unit[2]!.toLowerCase()];
    return ms === undefined ? undefined : new Timespan(Number(unit[1]) * ms);
  }
  const clock = /^(-)?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+(?:\.\d+)?))?$/.exec(t);
  if (clock) {
    const ms = Number(clock[2] ?? 0) * 86_400_000 + Number(clock[3]) * 3_600_000 + Number(clock[4]) * 60_000 + Number(clock[5] ?? 0) * 1000;
    return new Timespan(clock[1] ? -ms : ms);
  }
  if (wrapped && /^-?\d+(?:\.\d+)?$/.test(t)) return new Timespan(Number(t) * 86_400_000); // time(2) is 2 days
  return undefined;
}

/** `datetime(2020-01-01)`, `datetime(2020-01-01 10:00:00Z)`, ISO 8601 and RFC 1123 text; undefined when not a date. */
export function parseDatetime(text: string): Date | null | undefined {
  let t = text.trim();
  const wrapped = /^(?:datetime|date)\s*\((.*)\)$/is.exec(t);
  if (wrapped) t = wrapped[1]!.trim();
  if (t === 'null' || t === '') return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) t += 'T00:00:00Z';
  else if (/^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(t)) t = t.replace(' ', 'T') + 'Z';
  else t = t.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
  if (!/\d/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

export function formatTimespan(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const days = Math.floor(rest / 86_400_000); rest -= days * 86_400_000;
  const h = Math.floor(rest / 3_600_000); rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000); rest -= m * 60_000;
  const s = Math.floor(rest / 1000); rest -= s * 1000;
  const frac = rest > 0 ? '.' + String(Math.round(rest * 10_000)).padStart(7, '0') : '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${sign}${days ? `${days}.` : ''}${p(h)}:${p(m)}:${p(s)}${frac}`;
}

/** The value as `tostring()` gives it (null → ""; dynamic → JSON; datetime → ISO 8601 with 7 fraction digits). */
export function toText(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return formatDatetime(v);
  if (v instanceof Timespan) return formatTimespan(v.ms);
  return JSON.stringify(v);
}

export function formatDatetime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** The value as JSON for a result row: datetimes as ISO 8601, timespans as `[d.]hh:mm:ss`. */
export function toJsonValue(v: Value): unknown {
  if (v instanceof Date) return formatDatetime(v);
  if (v instanceof Timespan) return formatTimespan(v.ms);
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return v;
}

/** A stored JSON value back into a Value (strings stay strings). */
export function fromJson(v: unknown): Value {
  return v === undefined ? null : v as Value;
}

/** Equality as `==` has it: strings case-sensitive, dates and timespans by instant, dynamic by JSON. */
export function equals(a: Value, b: Value): boolean | null {
  if (a === null || b === null) return null;
  if (a instanceof Date || b instanceof Date) {
    const x = toMs(a); const y = toMs(b);
    return x === null || y === null ? null : x === y;
  }
  if (a instanceof Timespan || b instanceof Timespan) {
    const x = a instanceof Timespan ? a.ms : typeof a === 'number' ? a : null;
    const y = b instanceof Timespan ? b.ms : typeof b === 'number' ? b : null;
    return x === null || y === null ? null : x === y;
  }
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a === 'boolean' || typeof b === 'boolean') return toBool(a) === toBool(b);
  if (isDynamic(a) || isDynamic(b)) return JSON.stringify(a) === JSON.stringify(b);
  if (typeof a === 'number' || typeof b === 'number') {
    const x = Number(a); const y = Number(b);
    return Number.isNaN(x) || Number.isNaN(y) ? toText(a) === toText(b) : x === y;
  }
  return a === b;
}

function toMs(v: Value): number | null {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') { const d = parseDatetime(v); return d ? d.getTime() : null; }
  if (typeof v === 'number') return v;
  return null;
}

export function toBool(v: Value): boolean | null {
  if (v === null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') { const l = v.toLowerCase(); return l === 'true' ? true : l === 'false' ? false : null; }
  return null;
}

/** Ordering as `<`, `sort` and `min`/`max` use it; null when the two cannot be compared. */
export function compare(a: Value, b: Value): number | null {
  if (a === null || b === null) return null;
  if (a instanceof Date || b instanceof Date) {
    const x = toMs(a); const y = toMs(b);
    return x === null || y === null ? null : x - y;
  }
  if (a instanceof Timespan || b instanceof Timespan) {
    const x = a instanceof Timespan ? a.ms : Number(a); const y = b instanceof Timespan ? b.ms : Number(b);
    return Number.isNaN(x) || Number.isNaN(y) ? null : x - y;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number' || typeof b === 'number') {
    const x = Number(a); const y = Number(b);
    if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = toText(a); const y = toText(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Sort order with nulls placed as Kusto does (`nulls last` by default for desc, first for asc). */
export function sortCompare(a: Value, b: Value, desc: boolean, nullsFirst: boolean): number {
  if (a === null || b === null) {
    if (a === b) return 0;
    return (a === null) === nullsFirst ? -1 : 1;
  }
  const c = compare(a, b) ?? 0;
  return desc ? -c : c;
}

/** A grouping key for summarize / distinct / join (distinguishes types, keeps dynamic by JSON). */
export function keyOf(v: Value): string {
  if (v === null) return '\u0000n';
  if (typeof v === 'string') return 's' + v;
  if (typeof v === 'number') return 'n' + v;
  if (typeof v === 'boolean') return 'b' + v;
  if (v instanceof Date) return 'd' + v.getTime();
  if (v instanceof Timespan) return 't' + v.ms;
  return 'j' + JSON.stringify(v);
}
