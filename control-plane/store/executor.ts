import type { Dialect, Param, Sql } from './sql.ts';

/**
 * Runs statements for the repositories, the same way on both backends. Two kinds exist per
 * backend: one for calls on the store directly (each statement on its own; SQLite takes the
 * store's serialising lock per statement, PostgreSQL a pool connection), and one bound to a
 * transaction (SQLite: the single connection inside BEGIN; PostgreSQL: that transaction's client).
 */
export interface Executor {
  readonly dialect: Dialect;
  /** All result rows; `R` is the row shape the statement's columns decode from (see row-decoding). */
  all<R>(q: Sql, params?: readonly Param[]): Promise<R[]>;
  get<R>(q: Sql, params?: readonly Param[]): Promise<R | undefined>;
  /** Runs a statement without result rows; resolves to the number of rows it changed. */
  run(q: Sql, params?: readonly Param[]): Promise<number>;
  /** Runs one statement per parameter list (SQLite's batch path: one prepared statement, in a loop); changes per row. */
  runEach(q: Sql, rows: ReadonlyArray<readonly Param[]>): Promise<number[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Runs `fn` atomically: inside the current transaction, or in a new one. */
  atomic<T>(fn: (ex: Executor) => Promise<T>): Promise<T>;
  /**
   * Serialises a read-decide-write step between replicas sharing one database until the
   * transaction ends (PostgreSQL: pg_advisory_xact_lock). A no-op outside a transaction, where a
   * lone statement already sees one consistent snapshot, and on SQLite, whose single connection
   * already runs one transaction at a time.
   */
  lock(name: string): Promise<void>;
}
