import { resolveField } from './field-mapping.ts';
import type { TableName } from '../../protocol/index.ts';

/** A compiled selection: true when the event (a flat column map) satisfies it. */
export type Predicate = (event: Record<string, unknown>) => boolean;

/** Value modifiers arcsim implements, exactly as Sigma defines them. */
export const SUPPORTED_MODIFIERS = ['contains', 'startswith', 'endswith', 'all', 're', 'cidr', 'base64offset', 'windash', 'exists'] as const;

export class SelectionError extends Error {
  constructor(message: string, readonly path: string, readonly kind: 'unsupported' | 'field' | 'schema') {
    super(message);
  }
}

/**
 * Compiles one named selection. A map is AND over its fields; a list of maps is OR.
 * Values in a list are OR, unless the `all` modifier makes them AND. Strings compare
 * case-insensitively (Sigma's default); `re` is case-sensitive.
 */
export function compileSelection(name: string, body: unknown, table: TableName): Predicate {
  if (Array.isArray(body)) {
    if (body.every((b) => typeof b === 'object' && b !== null && !Array.isArray(b))) {
      const alts = body.map((b, i) => compileMap(b as Record<string, unknown>, table, `detection.${name}.${i}`));
      return (e) => alts.some((p) => p(e));
    }
    throw new SelectionError('keyword (full-text) selections are not supported; name a field', `detection.${name}`, 'unsupported');
  }
  if (typeof body === 'object' && body !== null) return compileMap(body as Record<string, unknown>, table, `detection.${name}`);
  throw new SelectionError('a selection is a map of fields or a list of maps', `detection.${name}`, 'schema');
}

function compileMap(map: Record<string, unknown>, table: TableName, path: string): Predicate {
  const parts = Object.entries(map).map(([key, value]) => compileField(key, value, table, `${path}.${key}`));
  return (e) => parts.every((p) => p(e));
}

function compileField(key: string, raw: unknown, table: TableName, path: string): Predicate {
  const [field, ...mods] = key.split('|');
  for (const m of mods) {
    if (!(SUPPORTED_MODIFIERS as readonly string[]).includes(m)) {
      throw new SelectionError(`value modifier "${m}" is not supported (supported: ${SUPPORTED_MODIFIERS.join(', ')})`, path, 'unsupported');
    }
  }
  const column = resolveField(table, field!);
  if (!column) throw new SelectionError(`field "${field}" does not exist in ${table}`, path, 'field');

  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) throw new SelectionError('empty value list', path, 'schema');
  const has = (m: string) => mods.includes(m);

  if (has('exists')) {
    if (typeof raw !== 'boolean' || mods.length !== 1) throw new SelectionError('"exists" takes true or false, alone', path, 'schema');
    return (e) => (e[column] !== undefined && e[column] !== null) === raw;
  }

  const matchers = values.map((v, i) => compileValue(v, mods, `${path}${Array.isArray(raw) ? `.${i}` : ''}`));
  const all = has('all');
  return (e) => {
    const actual = e[column];
    return all ? matchers.every((m) => m(actual)) : matchers.some((m) => m(actual));
  };
}

type ValueMatcher = (actual: unknown) => boolean;

function compileValue(value: unknown, mods: string[], path: string): ValueMatcher {
  if (value === null) return (a) => a === undefined || a === null || a === '';
  if (typeof value === 'number' || typeof value === 'boolean') {
    if (mods.some((m) => m !== 'all')) throw new SelectionError('string modifiers applied to a non-string value', path, 'schema');
    return (a) => a === value || (typeof a === 'string' && a.toLowerCase() === String(value).toLowerCase());
  }
  if (typeof value !== 'string') throw new SelectionError('values are strings, numbers, booleans or null', path, 'schema');

  if (mods.includes('re')) {
    if (mods.some((m) => !['re', 'all'].includes(m))) throw new SelectionError('"re" cannot be combined with other value modifiers', path, 'unsupported');
    let re: RegExp;
    try {
      re = new RegExp(value);
    } catch (err) {
      throw new SelectionError(`bad regular expression: ${(err as Error).message}`, path, 'schema');
    }
    return (a) => a !== undefined && a !== null && re.test(String(a));
  }
  if (mods.includes('cidr')) {
    if (mods.some((m) => !['cidr', 'all'].includes(m))) throw new SelectionError('"cidr" cannot be combined with other value modifiers', path, 'unsupported');
    const test = compileCidr(value, path);
    return (a) => typeof a === 'string' && test(a);
  }

  let variants = [value];
  if (mods.includes('windash')) variants = variants.flatMap(windashVariants);
  if (mods.includes('base64offset')) {
    if (!mods.includes('contains')) throw new SelectionError('"base64offset" is only defined together with "contains"', path, 'unsupported');
    variants = variants.flatMap(base64OffsetVariants);
  }
  const lowered = variants.map((v) => v.toLowerCase());
  const op = mods.includes('contains') ? 'contains' : mods.includes('startswith') ? 'startswith' : mods.includes('endswith') ? 'endswith' : 'eq';
  if ([mods.includes('contains'), mods.includes('startswith'), mods.includes('endswith')].filter(Boolean).length > 1) {
    throw new SelectionError('use only one of contains, startswith, endswith', path, 'unsupported');
  }
  // Base64 is case-sensitive: compare those variants exactly.
  const exact = mods.includes('base64offset');
  const wildcard = op === 'eq' && !exact && /[*?]/.test(value) ? lowered.map(wildcardRe) : undefined;
  return (a) => {
    if (a === undefined || a === null) return false;
    const s = exact ? String(a) : String(a).toLowerCase();
    const vs = exact ? variants : lowered;
    if (wildcard) return wildcard.some((re) => re.test(s));
    switch (op) {
      case 'contains': return vs.some((v) => s.includes(v));
      case 'startswith': return vs.some((v) => s.startsWith(v));
      case 'endswith': return vs.some((v) => s.endsWith(v));
      default: return vs.some((v) => s === v);
    }
  };
}

/** Sigma plain values may use `*` and `?` wildcards. */
function wildcardRe(v: string): RegExp {
  return new RegExp('^' + v.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
}

const DASHES = ['-', '/', '\u2013', '\u2014', '\u2015'];

/** `windash`: a leading `-` of a command-line flag may also be written `/`, en dash, em dash or horizontal bar. */
function windashVariants(v: string): string[] {
  const positions: number[] = [];
  for (let i = 0; i < v.length; i++) if (v[i] === '-' && (i === 0 || v[i - 1] === ' ')) positions.push(i);
  let out = [v];
  for (const pos of positions) out = out.flatMap((s) => DASHES.map((d) => s.slice(0, pos) + d + s.slice(pos + 1)));
  return [...new Set(out)];
}

/** `base64offset`: the three encodings of `v` at each byte offset, trimmed to their stable part. */
function base64OffsetVariants(v: string): string[] {
  const start = [0, 2, 3];
  const endTrim = [0, 3, 2];
  return [0, 1, 2].map((i) => {
    const enc = Buffer.from(' '.repeat(i) + v, 'utf8').toString('base64');
    const trimEnd = endTrim[(Buffer.byteLength(v) + i) % 3]!;
    return enc.slice(start[i], trimEnd ? enc.length - trimEnd : enc.length);
  });
}

function compileCidr(cidr: string, path: string): (ip: string) => boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const v4 = parseIPv4(base ?? '');
  if (v4 === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new SelectionError(`"${cidr}" is not an IPv4 CIDR (IPv6 CIDR is not supported)`, path, v4 === undefined && base?.includes(':') ? 'unsupported' : 'schema');
  }
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ip) => {
    const n = parseIPv4(ip);
    return n !== undefined && ((n & mask) >>> 0) === ((v4 & mask) >>> 0);
  };
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
