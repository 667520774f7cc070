/**
 * Shared pieces of the seeded fuzzers (test/fuzz/*.test.ts): the seed and run counts (fixed by
 * default, ARCSIM_FUZZ_SEED / ARCSIM_FUZZ_RUNS override them), mutators of valid inputs built on
 * fast-check, and a tally of the typed error codes seen, printed so `npm test` shows the counts.
 * docs/testing.md explains how to replay a failing seed.
 */
import fc from 'fast-check';
import { ArcsimError, ERRORS } from '../../protocol/errors.ts';

/** The default seed: every `npm test` runs the same cases; a failure prints it for replay. */
export const DEFAULT_SEED = 20261203;

export const FUZZ_SEED: number = (() => {
  const raw = process.env.ARCSIM_FUZZ_SEED;
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`ARCSIM_FUZZ_SEED must be an integer, got ${raw}`);
  return n;
})();

/**
 * Cases for one fuzzer: `base` by default; ARCSIM_FUZZ_RUNS=N runs N per fuzzer target instead
 * (so a long soak is one env var away).
 */
export function runsFor(base: number): number {
  const raw = process.env.ARCSIM_FUZZ_RUNS;
  if (raw === undefined || raw === '') return base;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`ARCSIM_FUZZ_RUNS must be a positive integer, got ${raw}`);
  return n;
}

/** fast-check parameters for one property: the seed (plus a per-target offset so targets differ), the runs. */
export function fcParams(runs: number, offset = 0): fc.Parameters<unknown> {
  return { seed: (FUZZ_SEED + offset) | 0, numRuns: runs, endOnFailure: false, verbose: 0, includeErrorInReport: true };
}

/** Counts cases and the typed codes they ended in. */
export class Tally {
  cases = 0;
  accepted = 0;
  readonly codes = new Map<string, number>();

  code(code: string): void {
    this.cases++;
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }

  ok(): void {
    this.cases++;
    this.accepted++;
  }

  /** One line: `fuzz <name>: <cases> cases (seed S): <accepted> accepted, codes {...}`. */
  line(name: string): string {
    const codes = [...this.codes.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
    return `fuzz ${name}: ${this.cases} cases (seed ${FUZZ_SEED}): ${this.accepted} accepted, typed errors: ${codes || 'none'}`;
  }
}

/** Prints the tally line to stdout (it appears in the `npm test` output) and returns it. */
export function printTally(name: string, tally: Tally): string {
  const line = tally.line(name);
  process.stdout.write(`${line}\n`);
  return line;
}

/** True when `code` is a catalogued ARCSIM_E_* code. */
export function isCatalogued(code: unknown): code is keyof typeof ERRORS {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/**
 * Runs `load` and classifies the outcome: accepted, or a catalogued ArcsimError (counted). Any other
 * throw (TypeError, RangeError, a raw YAML error, an ArcsimError with an uncatalogued code) is
 * rethrown with the input so fast-check reports it as the failing case.
 */
export function expectTyped(tally: Tally, load: () => unknown, input: unknown): void {
  try {
    load();
  } catch (err) {
    if (err instanceof ArcsimError && isCatalogued(err.code)) {
      tally.code(err.code);
      return;
    }
    const e = err as Error;
    throw new Error(`untyped failure ${e?.name}: ${e?.message}\ninput: ${JSON.stringify(input).slice(0, 2000)}\n${e?.stack ?? ''}`);
  }
  tally.ok();
}

// --- Mutators -----------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path (list of keys/indices) to a node of a JSON value, the root included. */
export function pathsOf(value: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

/** Values that break parsers and validators more often than random ones. */
export const nastyValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null, true, false, 0, -1, 1.5, -0.000001, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, '', ' ', '0', '-1', 'NaN', 'null', 'true',
    '__proto__', 'constructor', 'toString', '\u0000', '\ud800', '💥', '../../etc/passwd', '$(id)', '{{ x }}', '#{x}', '*', '%s',
    '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-30T25:61:61Z', 'P1D', '1h', '-5m', '0s', '99999999999d',
    'T1059', 'T1059.001', 'T0000.000', 'ARCSIM_E_X', [], {}, [null], { '': null }, { __proto__: null } as unknown as Json,
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.string({ minLength: 5000, maxLength: 5001 }).map((s) => s.repeat(3)),
);

export type JsonOp =
  | { op: 'replace'; at: number; value: Json }
  | { op: 'delete'; at: number }
  | { op: 'add'; at: number; key: string; value: Json }
  | { op: 'wrap'; at: number }
  | { op: 'dup'; at: number }
  | { op: 'stringify'; at: number };

export const jsonOp: fc.Arbitrary<JsonOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: nastyValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'v', 'type', 'id')), value: nastyValue }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('wrap' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dup' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stringify' as const), at: fc.nat() }) },
);

/** 1–4 mutations of a valid document. */
export const jsonOps: fc.Arbitrary<JsonOp[]> = fc.array(jsonOp, { minLength: 1, maxLength: 4 });

/** Applies `ops` to a deep copy of `doc` (each op picks its node by index among all paths). */
export function mutateJson(doc: unknown, ops: JsonOp[]): unknown {
  let root = structuredClone(doc) as Json;
  for (const o of ops) {
    const paths = pathsOf(root);
    const path = paths[o.at % paths.length]!;
    const get = (p: Array<string | number>) => p.reduce<any>((n, k) => (n == null ? n : n[k]), root);
    const set = (p: Array<string | number>, v: Json | undefined) => {
      if (p.length === 0) { root = (v ?? null) as Json; return; }
      const parent = get(p.slice(0, -1));
      const key = p[p.length - 1]!;
      if (Array.isArray(parent)) {
        if (v === undefined) parent.splice(key as number, 1); else parent[key as number] = v;
      } else if (parent && typeof parent === 'object') {
        if (v === undefined) delete parent[key]; else Object.defineProperty(parent, key, { value: v, enumerable: true, writable: true, configurable: true });
      }
    };
    const node = get(path) as Json;
    switch (o.op) {
      case 'replace': set(path, structuredClone(o.value)); break;
      case 'delete': set(path, undefined); break;
      case 'add':
        if (Array.isArray(node)) node.push(structuredClone(o.value));
        else if (node && typeof node === 'object') Object.defineProperty(node, o.key, { value: structuredClone(o.value), enumerable: true, writable: true, configurable: true });
        else set(path, { [o.key]: structuredClone(o.value) } as Json);
        break;
      case 'wrap': set(path, [structuredClone(node)]); break;
      case 'dup':
        if (Array.isArray(node) && node.length) { for (let i = 0; i < 3; i++) node.push(structuredClone(node[0]!)); }
        else set(path, structuredClone(node));
        break;
      case 'stringify': set(path, JSON.stringify(node) ?? 'undefined'); break;
    }
  }
  return root;
}

export type TextOp = { at: number; del: number; insert: string };

/** Byte-level edits of a text: cut, insert, truncate. */
export const textOps: fc.Arbitrary<TextOp[]> = fc.array(
  fc.record({
    at: fc.nat(),
    del: fc.oneof(fc.constant(0), fc.nat({ max: 8 }), fc.nat({ max: 400 })),
    insert: fc.oneof(
      fc.constant(''),
      fc.string({ maxLength: 6 }),
      fc.constantFrom(':', ': ', '- ', '\n', '\n  ', '"', "'", '{', '}', '[', ']', ',', '#', '|', '>', '!!str ', '!!int ', '!!binary ', '? ', '%YAML 1.2\n', '---\n', '...\n', '\t', '\\u0000', '\u0000', '\ufeff', 'null', '~', '1e999', '-.inf', '.nan', '0x1F', '0o17', '2026-01-01'),
    ),
  }),
  { minLength: 1, maxLength: 5 },
);

export function mutateText(text: string, ops: TextOp[]): string {
  let out = text;
  for (const o of ops) {
    const at = out.length ? o.at % (out.length + 1) : 0;
    out = out.slice(0, at) + o.insert + out.slice(at + o.del);
  }
  return out;
}
