import type { Clock } from '../../lib/clock.ts';

/**
 * Names the store fault behind an error thrown by a write, or returns undefined when the error is
 * not a store fault (a bug, a bad row: retrying the same batch would fail the same way).
 * Covers what a lab disk and database do: a full disk (SQLite SQLITE_FULL, ENOSPC, PostgreSQL
 * 53100), a locked database (SQLITE_BUSY/LOCKED, PostgreSQL lock and serialization conflicts), I/O
 * and read-only faults, and PostgreSQL being down or restarting (connection refused or lost,
 * class 08, 57P01-03). The text is meant for `/api/health`: a cause and the driver's code, no paths
 * or credentials.
 */
export function storeFault(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = String((err as { code?: unknown }).code ?? '');
  const message = String((err as { message?: unknown }).message ?? '');
  if (code === 'SQLITE_FULL') return 'disk full (SQLITE_FULL)';
  if (code === 'ENOSPC' || code === 'EDQUOT') return `disk full (${code})`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return `database locked (${code})`;
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return `disk I/O error (${code})`;
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return `database is read-only (${code})`;
  if (code.startsWith('SQLITE_CANTOPEN')) return `cannot open the database file (${code})`;
  if (code === '53100') return 'disk full (PostgreSQL 53100)';
  if (code.startsWith('53')) return `database out of resources (PostgreSQL ${code})`;
  if (code === '40001' || code === '40P01' || code === '55P03') return `database locked (PostgreSQL ${code})`;
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return `database unavailable (PostgreSQL ${code})`;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return `database unreachable (${code})`;
  // node-postgres reports a connection lost mid-query with a bare Error.
  if (/Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)) return 'database unreachable (connection lost)';
  return undefined;
}

export type StoreHealthState =
  | { healthy: true; reasons?: undefined }
  | { healthy: false; reasons: string[]; since: number };

/**
 * Whether the store currently takes writes, as the last write said: a failed write marks it
 * degraded with its cause (kept from the first failure of a streak, so `since` says how long),
 * a successful one clears it. `/api/health` reads it; the agent session reports to it.
 */
export class StoreHealth {
  private fault: { cause: string; since: number } | undefined;

  /** `onFailed`: told of every failed write (the metrics count them), not only the first of a streak. */
  constructor(private readonly clock: Clock, private readonly onFailed?: (cause: string) => void) {}

  /** A write failed because of `cause` (see storeFault). */
  failed(cause: string): void {
    this.onFailed?.(cause);
    if (this.fault?.cause === cause) return;
    this.fault = { cause, since: this.fault?.since ?? this.clock.now() };
  }

  /** A write committed: the store takes writes again. */
  succeeded(): void {
    this.fault = undefined;
  }

  state(): StoreHealthState {
    const f = this.fault;
    if (!f) return { healthy: true };
    return { healthy: false, since: f.since, reasons: [`store: ${f.cause} since ${new Date(f.since).toISOString()}`] };
  }
}
