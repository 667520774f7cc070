import type { Cell, RunResult } from '../../../protocol/index.ts';
import type { Store } from '../../store/index.ts';

/** Stored test runs, newest first, at most `limit` (the store's listing has no suite or result bodies). */
export const runList = (store: Store, limit: number) => store.runs.listTestRuns(limit);

/** One page of the stored test runs, newest first, and how many there are (paged in SQL; no suite or result bodies). */
export const runPage = (store: Store, page: { offset: number; limit: number }) => store.runs.pageTestRuns(page);

/** A stored run's result, or undefined. */
export async function runResult(store: Store, runId: string): Promise<RunResult | undefined> {
  return (await store.runs.getTestRun(runId))?.result as unknown as RunResult | undefined;
}

/** The matrix: one row per suite row, one column per host; each cell or undefined. */
export function matrix(r: RunResult): { columns: string[]; rows: Array<{ rowId: string; label: string; cells: Array<Cell | undefined> }> } {
  const columns = r.hosts.length ? r.hosts.map((h) => h.column) : [...new Set(r.cells.map((c) => c.host))];
  return {
    columns,
    rows: r.rows.map((row) => ({
      rowId: row.rowId,
      label: row.kind === 'incident' ? `${row.rowId} (incident)` : `${row.rowId}${row.variant === 'benign' ? ' (benign)' : ''}`,
      cells: columns.map((col) => r.cells.find((c) => c.rowId === row.rowId && c.host === col)),
    })),
  };
}

/** Latency of each alert the run raised, by cell, slowest first. */
export function latencies(r: RunResult): Array<{ cell: Cell; alertType: string; latencyMs: number }> {
  return r.cells.flatMap((c) => c.alerts.filter((a) => a.latencyMs !== null).map((a) => ({ cell: c, alertType: a.alertType, latencyMs: a.latencyMs! })))
    .sort((a, b) => b.latencyMs - a.latencyMs);
}

/** Percentile (nearest rank) of sorted-or-not values; undefined when empty. */
export function percentile(values: number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export interface CellComparison {
  rowId: string;
  host: string;
  before?: Cell;
  after?: Cell;
  /** Alert types (with counts) raised only before, only after. */
  lost: string[];
  gained: string[];
  changed: boolean;
}

/**
 * A run compared with another of the same suite (a replay, or the same suite run again): per
 * (row, host) the status before and after and the alert types each raised that the other did not.
 */
export function compareRuns(base: RunResult, other: RunResult): CellComparison[] {
  const key = (c: Cell) => `${c.rowId}\u0000${c.host}`;
  const before = new Map(base.cells.map((c) => [key(c), c]));
  const after = new Map(other.cells.map((c) => [key(c), c]));
  const types = (c?: Cell) => (c ? c.alerts.map((a) => `${a.alertType}×${a.count}`) : []);
  return [...new Set([...before.keys(), ...after.keys()])].map((k) => {
    const b = before.get(k), a = after.get(k);
    const tb = types(b), ta = types(a);
    const lost = tb.filter((t) => !ta.includes(t));
    const gained = ta.filter((t) => !tb.includes(t));
    const [rowId, host] = k.split('\u0000') as [string, string];
    return { rowId, host, before: b, after: a, lost, gained, changed: b?.status !== a?.status || lost.length > 0 || gained.length > 0 };
  });
}
