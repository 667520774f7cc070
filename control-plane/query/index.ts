import type { Store } from '../store/index.ts';
import { runQuery, type QueryResult } from './engine.ts';
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
}

/** Runs a query over the store's tables (limits from QUERY_LIMITS unless given). */
export async function queryStore(text: string, deps: QueryDeps): Promise<QueryResult> {
  const limits = { ...QUERY_LIMITS, ...deps.limits };
  const tables = new StoreTables({ store: deps.store, baseUrl: deps.baseUrl, limits });
  const result = await runQuery(text, tables, { now: deps.now(), timeoutMs: limits.timeoutMs, maxRows: limits.maxRows });
  return { ...result, truncated: result.truncated || tables.scanCapped };
}

/** The result in the shape of `POST /api/advancedqueries/run` (Defender for Endpoint API). */
export function toHuntingResult(r: QueryResult, elapsedMs: number): HuntingResult {
  return {
    Schema: r.columns.map((c) => ({ Name: c.name, Type: HUNTING_TYPES[c.type] ?? 'String' })),
    Results: r.rows.map((row) => Object.fromEntries(r.columns.map((c) => [c.name, toJsonValue(row[c.name] ?? null)]))),
    Stats: { RowCount: r.rows.length, Truncated: r.truncated, ExecutionTimeMs: Math.round(elapsedMs) },
  };
}
