import { compare, keyOf, toBool, type Value } from './values.ts';

/**
 * Aggregation functions of `summarize` (learn.microsoft.com/kusto/query/aggregation-functions).
 * Each is a small accumulator: `add` gets the evaluated arguments of one row, `result` the value.
 * `arg_max` / `arg_min` also carry the row they picked (the engine spreads its columns).
 */
export interface Accumulator {
  add(args: Value[], row: Record<string, Value>): void;
  result(): Value;
  /** arg_max / arg_min: the row picked. */
  row?(): Record<string, Value> | undefined;
}

const num = (v: Value): number | null => (typeof v === 'number' ? v : v === null ? null : Number.isNaN(Number(v)) ? null : Number(v));

class Count implements Accumulator {
  n = 0;
  constructor(private readonly when?: boolean) {}
  add(args: Value[]): void {
    if (this.when) { if (toBool(args[0] ?? null) === true) this.n++; } else if (args.length === 0 || args[0] !== null) this.n++;
  }
  result(): Value { return this.n; }
}

class DCount implements Accumulator {
  seen = new Set<string>();
  constructor(private readonly when?: boolean) {}
  add(args: Value[]): void {
    if (this.when && toBool(args[1] ?? null) !== true) return;
    if (args[0] !== null && args[0] !== undefined) this.seen.add(keyOf(args[0]));
  }
  result(): Value { return this.seen.size; }
}

class Sum implements Accumulator {
  s: number | null = null;
  constructor(private readonly when?: boolean) {}
  add(args: Value[]): void {
    if (this.when && toBool(args[1] ?? null) !== true) return;
    const n = num(args[0] ?? null);
    if (n !== null) this.s = (this.s ?? 0) + n;
  }
  result(): Value { return this.s; }
}

class Avg implements Accumulator {
  s = 0; n = 0;
  constructor(private readonly when?: boolean) {}
  add(args: Value[]): void {
    if (this.when && toBool(args[1] ?? null) !== true) return;
    const v = num(args[0] ?? null);
    if (v !== null) { this.s += v; this.n++; }
  }
  result(): Value { return this.n ? this.s / this.n : null; }
}

class MinMax implements Accumulator {
  v: Value = null;
  constructor(private readonly max: boolean, private readonly when?: boolean) {}
  add(args: Value[]): void {
    if (this.when && toBool(args[1] ?? null) !== true) return;
    const x = args[0] ?? null;
    if (x === null) return;
    const c = this.v === null ? 1 : compare(x, this.v) ?? 0;
    if (this.max ? c > 0 : c < 0) this.v = x;
  }
  result(): Value { return this.v; }
}

class ArgMinMax implements Accumulator {
  best: Value = null;
  picked: { args: Value[]; row: Record<string, Value> } | undefined;
  constructor(private readonly max: boolean) {}
  add(args: Value[], row: Record<string, Value>): void {
    const x = args[0] ?? null;
    if (x === null && this.picked) return;
    const c = this.best === null ? 1 : x === null ? -1 : compare(x, this.best) ?? 0;
    if (!this.picked || (this.max ? c > 0 : c < 0)) { this.best = x; this.picked = { args, row }; }
  }
  result(): Value { return this.best; }
  row(): Record<string, Value> | undefined { return this.picked?.row; }
  /** The other arguments' values on the picked row. */
  args(): Value[] { return this.picked?.args ?? []; }
}

class MakeList implements Accumulator {
  items: Value[] = [];
  seen = new Set<string>();
  constructor(private readonly set: boolean, private readonly max: number, private readonly when?: boolean) {}
  add(args: Value[]): void {
    if (this.when && toBool(args[1] ?? null) !== true) return;
    const v = args[0] ?? null;
    if (v === null || this.items.length >= this.max) return;
    const values = this.set && Array.isArray(v) ? v : [v];
    for (const x of values) {
      if (this.set) { const k = keyOf(x); if (this.seen.has(k)) continue; this.seen.add(k); }
      if (this.items.length < this.max) this.items.push(x);
    }
  }
  result(): Value { return this.items; }
}

class MakeBag implements Accumulator {
  bag: Record<string, Value> = {};
  add(args: Value[]): void {
    const v = args[0];
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) Object.assign(this.bag, v);
  }
  result(): Value { return this.bag; }
}

class AnyValue implements Accumulator {
  v: Value = null; set = false;
  add(args: Value[]): void { if (!this.set && (args[0] ?? null) !== null) { this.v = args[0]!; this.set = true; } }
  result(): Value { return this.v; }
}

class Percentile implements Accumulator {
  values: number[] = [];
  constructor(private readonly p: number) {}
  add(args: Value[]): void { const n = num(args[0] ?? null); if (n !== null) this.values.push(n); }
  result(): Value {
    if (this.values.length === 0) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    // Nearest-rank, as Kusto's percentile returns a value of the set.
    const rank = Math.max(1, Math.ceil((this.p / 100) * sorted.length));
    return sorted[rank - 1]!;
  }
}

class Stdev implements Accumulator {
  values: number[] = [];
  constructor(private readonly variance: boolean) {}
  add(args: Value[]): void { const n = num(args[0] ?? null); if (n !== null) this.values.push(n); }
  result(): Value {
    const n = this.values.length;
    if (n < 2) return 0;
    const mean = this.values.reduce((s, x) => s + x, 0) / n;
    const v = this.values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
    return this.variance ? v : Math.sqrt(v);
  }
}

/** Aggregation names and how to make a fresh accumulator (`constArgs`: the literal arguments, e.g. make_set's max size). */
export const AGGREGATES: Record<string, (constArgs: Value[]) => Accumulator> = {
  count: () => new Count(),
  countif: () => new Count(true),
  dcount: () => new DCount(),
  dcountif: () => new DCount(true),
  count_distinct: () => new DCount(),
  sum: () => new Sum(),
  sumif: () => new Sum(true),
  avg: () => new Avg(),
  avgif: () => new Avg(true),
  min: () => new MinMax(false),
  max: () => new MinMax(true),
  minif: () => new MinMax(false, true),
  maxif: () => new MinMax(true, true),
  arg_max: () => new ArgMinMax(true),
  arg_min: () => new ArgMinMax(false),
  make_list: (c) => new MakeList(false, limitOf(c[1])),
  makelist: (c) => new MakeList(false, limitOf(c[1])),
  make_list_if: (c) => new MakeList(false, limitOf(c[2]), true),
  make_list_with_nulls: (c) => new MakeList(false, limitOf(c[1])),
  make_set: (c) => new MakeList(true, limitOf(c[1])),
  makeset: (c) => new MakeList(true, limitOf(c[1])),
  make_set_if: (c) => new MakeList(true, limitOf(c[2]), true),
  make_bag: () => new MakeBag(),
  any: () => new AnyValue(),
  take_any: () => new AnyValue(),
  percentile: (c) => new Percentile(Number(c[1] ?? 50)),
  stdev: () => new Stdev(false),
  variance: () => new Stdev(true),
};

/** make_list / make_set keep at most 1,048,576 items by default (Kusto's documented default). */
function limitOf(v: Value | undefined): number {
  return typeof v === 'number' && v > 0 ? v : 1_048_576;
}

export { ArgMinMax };
export const isAggregate = (name: string): boolean => Object.prototype.hasOwnProperty.call(AGGREGATES, name);
