import type { Store } from '../store/index.ts';
import { runQuery, type Pushdown, type QueryResult, type TableSource } from './engine.ts';
import { StoreTables } from './tables.ts';
import { toJsonValue, type KqlType } from './values.ts';

export { QueryError } from './errors.ts';
export { parseKql, lineColumn, type QueryDiagnostic } from './parser.ts';
export { runQuery, type TableSource, type Pushdown, type QueryResult } from './engine.ts';
export { StoreTables, eventScan } from './tables.ts';

/**
 * Query limits, as the real services have them: Defender advanced hunting returns at most 10,000
 * rows and stops a query after 10 minutes (learn.microsoft.com/defender-xdr/advanced-hunting-limits);
 * Azure Resource Graph pages 1,000 rows. `maxScanRows` bounds what one event-table scan holds in
 * memory; a scan that reaches it flags the result truncated like the row cap does.
 */
export const QUERY_LIMITS = {
  /** Rows a result holds at most (advanced hunting's cap). */
  maxRows: 10_000,
  /** A query fails with ARCSIM_E_QUERY after this long, ms (advanced hunting's 10 minutes). */
  timeoutMs: 10 * 60_000,
  /** Rows one scan of an event table reads at most. */
  maxScanRows: 500_000,
} as const;
export type QueryLimits = { [K in keyof typeof QUERY_LIMITS]: number };

/** The advanced hunting API's type names (`Schema[].Type`). */
const HUNTING_TYPES: Record<KqlType, string> = {
  string: 'String', long: 'Int64', int: 'Int32', real: 'Double', bool: 'Boolean', datetime: 'DateTime', timespan: 'TimeSpan',
  dynamic: 'Object', guid: 'Guid', decimal: 'Decimal',
};

export interface HuntingResult {
  Schema: Array<{ Name: string; Type: string }>;
  Results: Array<Record<string, unknown>>;
  Stats: { RowCount: number; Truncated: boolean; ExecutionTimeMs: number };
}

export interface QueryDeps {
  store: Store;
  baseUrl(): string;
  now(): Date;
  limits?: Partial<QueryLimits>;
  /** Only these tables exist for the query (Resource Graph has no device tables); all when not given. */
  tables?: readonly string[];
  /** Log Analytics' `timespan`: rows outside [from, to] (ms) are not seen, by `TimeGenerated` or `Timestamp`. */
  window?: { from: number; to: number };
}

/** The tables each API shape offers. */
export const ARG_TABLES = ['resources', 'securityresources'] as const;

/** Runs a query over the store's tables (limits from QUERY_LIMITS unless given). */
export async function queryStore(text: string, deps: QueryDeps): Promise<QueryResult> {
  const limits = { ...QUERY_LIMITS, ...deps.limits };
  const tables = new StoreTables({ store: deps.store, baseUrl: deps.baseUrl, limits });
  let source: TableSource = tables;
  if (deps.tables) source = restrictTables(source, deps.tables);
  if (deps.window) source = windowed(source, deps.window);
  const result = await runQuery(text, source, { now: deps.now(), timeoutMs: limits.timeoutMs, maxRows: limits.maxRows });
  return { ...result, truncated: result.truncated || tables.scanCapped };
}

function restrictTables(source: TableSource, names: readonly string[]): TableSource {
  return {
    schema: (n) => (names.includes(n) ? source.schema(n) : undefined),
    tableNames: () => source.tableNames().filter((n) => names.includes(n)),
    rows: (n, p) => source.rows(n, p),
  };
}

function windowed(source: TableSource, w: { from: number; to: number }): TableSource {
  return {
    schema: (n) => source.schema(n),
    tableNames: () => source.tableNames(),
    async rows(n, pushdown) {
      const cols = source.schema(n) ?? [];
      const timeCol = cols.find((c) => c.name === 'TimeGenerated') ?? cols.find((c) => c.name === 'Timestamp');
      if (!timeCol) return source.rows(n, pushdown);
      const bounds: Pushdown[] = [{ column: timeCol.name, op: '>=', value: new Date(w.from) }, { column: timeCol.name, op: '<=', value: new Date(w.to) }];
      const rows = await source.rows(n, [...pushdown, ...bounds]);
      return rows.filter((r) => { const t = r[timeCol.name]; return t instanceof Date && t.getTime() >= w.from && t.getTime() <= w.to; });
    },
  };
}

/** Log Analytics' column types (`tables[].columns[].type`). */
export function toLogAnalyticsTable(r: QueryResult): { name: string; columns: Array<{ name: string; type: string }>; rows: unknown[][] } {
  return {
    name: 'PrimaryResult',
    columns: r.columns.map((c) => ({ name: c.name, type: c.type === 'int' ? 'int' : c.type })),
    rows: r.rows.map((row) => r.columns.map((c) => toJsonValue(row[c.name] ?? null))),
  };
}

/**
 * An ISO 8601 `timespan` of the Log Analytics query API: a duration (`PT1H`, `P1D`) ending now, or
 * `start/end`, or `start/duration`. Undefined when it is not one.
 */
export function parseIsoTimespan(text: string, now: number): { from: number; to: number } | undefined {
  const duration = (d: string): number | undefined => {
    const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(d);
    if (!m || d.toUpperCase() === 'P' || d.toUpperCase() === 'PT') return undefined;
    return Number(m[1] ?? 0) * 86_400_000 + Number(m[2] ?? 0) * 3_600_000 + Number(m[3] ?? 0) * 60_000 + Number(m[4] ?? 0) * 1000;
  };
  const [a, b] = text.split('/');
  if (b === undefined) { const d = duration(a!); return d === undefined ? undefined : { from: now - d, to: now }; }
  const start = Date.parse(a!);
  if (Number.isNaN(start)) return undefined;
  const end = Date.parse(b);
  if (!Number.isNaN(end)) return { from: start, to: end };
  const d = duration(b);
  return d === undefined ? undefined : { from: start, to: start + d };
}

/** The result in the shape of `POST /api/advancedqueries/run` (Defender for Endpoint API). */
export function toHuntingResult(r: QueryResult, elapsedMs: number): HuntingResult {
  return {
    Schema: r.columns.map((c) => ({ Name: c.name, Type: HUNTING_TYPES[c.type] ?? 'String' })),
    Results: r.rows.map((row) => Object.fromEntries(r.columns.map((c) => [c.name, toJsonValue(row[c.name] ?? null)]))),
    Stats: { RowCount: r.rows.length, Truncated: r.truncated, ExecutionTimeMs: Math.round(elapsedMs) },
  };
}
