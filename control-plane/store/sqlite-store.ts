import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Executor } from './executor.ts';
import { migrate } from './migrate.ts';
import type { Param, Sql } from './sql.ts';
import { SqlStore } from './sql-store.ts';
import { SqliteCheckpointer } from './sqlite-checkpointer.ts';
import { DeferredEventData } from './repositories/events.ts';
import type { Store } from './store.ts';

/**
 * Serialises async work: one transaction (or one statement) at a time on the single connection.
 * Nothing runs before `ready` (the migrations) has settled, and nothing at all if it failed.
 */
class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(private readonly ready: Promise<void>) {}
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(() => this.ready).then(fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
  /** Resolves once everything queued so far has settled. */
  drained(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/** Prepared statements, each prepared once per connection and reused (keyed by their text). */
class StatementCache {
  private readonly byText = new Map<string, Database.Statement>();
  constructor(readonly db: Database.Database) {}
  get(q: Sql): Database.Statement {
    let s = this.byText.get(q.sqlite);
    if (!s) {
      s = this.db.prepare(q.sqlite);
      this.byText.set(q.sqlite, s);
    }
    return s;
  }
}

/**
 * better-sqlite3 is synchronous. On the store directly (`queue` given) each statement, or atomic
 * unit, waits its turn on the lock; inside a transaction the lock is already held and statements
 * run at once.
 */
class SqliteExecutor implements Executor {
  readonly dialect = 'sqlite' as const;
  /** `betweenTransactions`: called after each of the store's own transactions (or autocommit writes) ends, before the next starts. */
  constructor(private readonly cache: StatementCache, private readonly queue?: Lock, private readonly betweenTransactions?: () => void) {}

  /** Inside a transaction: statements run at once (the caller holds the connection). */
  static inside(cache: StatementCache): SqliteExecutor {
    return new SqliteExecutor(cache);
  }

  all<R>(q: Sql, params: readonly Param[] = []): Promise<R[]> {
    return this.turn(() => this.cache.get(q).all(...params) as R[]);
  }

  get<R>(q: Sql, params: readonly Param[] = []): Promise<R | undefined> {
    return this.turn(() => this.cache.get(q).get(...params) as R | undefined);
  }

  run(q: Sql, params: readonly Param[] = []): Promise<number> {
    return this.turn(() => this.cache.get(q).run(...params).changes);
  }

  runEach(q: Sql, rows: ReadonlyArray<readonly Param[]>): Promise<number[]> {
    return this.turn(() => {
      const s = this.cache.get(q);
      return rows.map((params) => s.run(...params).changes);
    });
  }

  exec(script: string): Promise<void> {
    return this.turn(() => void this.cache.db.exec(script));
  }

  lock(): Promise<void> {
    return Promise.resolve();
  }

  atomic<T>(fn: (ex: Executor) => Promise<T>): Promise<T> {
    const db = this.cache.db;
    if (this.queue) {
      const inside = SqliteExecutor.inside(this.cache);
      return this.queue.run(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(inside);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        } finally {
          this.betweenTransactions?.();
        }
      });
    }
    // Already inside the caller's transaction (which holds the lock): atomic with everything else it does.
    return fn(this);
  }

  private turn<T>(fn: () => T): Promise<T> {
    if (this.queue) return this.queue.run(() => {
      try {
        return fn();
      } finally {
        this.betweenTransactions?.();
      }
    });
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for throwaway stores. Its directory is created if missing. */
  file: string;
  /**
   * A throwaway store whose events are read back only by ReportId (`arcsim detect`: a closing
   * window's trigger). The events indexes that serve every other read (by agent, detonation,
   * table and time, file certificates: SCRATCH_DROPPED_INDEXES) are dropped after migrating, so
   * each insert maintains only the table and its (ReportId, agent) dedup index; and an event's
   * JSON (`data`) is written only when a read may return its row (DeferredEventData: a closing
   * window's trigger, or any other events read), not on insert. Every query still answers the
   * same (by scanning). Only with `file: ':memory:'`.
   */
  scratch?: boolean;
  /**
   * Who checkpoints the WAL of a file store: `thread` (the default), a worker thread with its own
   * connection (sqlite-checkpointer.ts), so no COMMIT of the control plane's loop carries a
   * checkpoint and its fsync; `inline`, SQLite's automatic checkpoint inside the COMMIT that
   * passes 1,000 pages. In-memory stores have no WAL.
   */
  checkpoint?: 'thread' | 'inline';
  /** The checkpointer thread's timings and bounds, when not SQLITE_CHECKPOINT's (tests use a small WAL bound). */
  checkpointLimits?: { intervalMs?: number; maxWalPages?: number };
}

/** The events indexes a scratch store does without (migration 014 lists the query each serves). */
export const SCRATCH_DROPPED_INDEXES = ['events_agent_ts', 'events_detonation', 'events_tbl_ts', 'events_file_certificates', 'events_agent_action_ts'] as const;

/**
 * Opens (and migrates) the embedded SQLite store: WAL journal, foreign keys on, NORMAL sync
 * (durable across process crashes; the last transactions may roll back on power loss).
 */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  if (options.scratch && options.file !== ':memory:') throw new Error('a scratch store is in memory only');
  if (options.file !== ':memory:') {
    // The database holds key hashes, tokens and every event: owner-only. A directory created here is
    // 0700; the file is created 0600, and tightened if it exists (SQLite gives -wal/-shm its mode).
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    closeSync(openSync(options.file, 'a', 0o600));
    chmodSync(options.file, 0o600);
  }
  const db = new Database(options.file);
  db.pragma('journal_mode = WAL');
  if (options.file !== ':memory:') for (const f of [`${options.file}-wal`, `${options.file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const cache = new StatementCache(db);
  // Migrations start now, in their own transaction; every store call waits for them, and fails
  // with their error if they failed. The no-op handler only keeps a failure from being an
  // unhandled rejection before the first call reports it.
  const migrated = migrate(new SqliteExecutor(cache, new Lock(Promise.resolve())));
  const ready = options.scratch
    ? migrated.then(() => { for (const index of SCRATCH_DROPPED_INDEXES) db.exec(`DROP INDEX IF EXISTS ${index}`); })
    : migrated;
  ready.catch(() => undefined);
  const lock = new Lock(ready);
  const checkpointer = options.file !== ':memory:' && options.checkpoint !== 'inline' ? new SqliteCheckpointer(db, options.file, options.checkpointLimits) : undefined;
  // When the WAL is due to start over, the store's next operation is the thread's final round:
  // everything queued behind it waits (nothing is written meanwhile); the event loop does not.
  const between = checkpointer && (() => { if (checkpointer.wantsWrap()) void lock.run(() => checkpointer.finish()); });
  return new SqlStore(new SqliteExecutor(cache, lock, between), async () => {
    await lock.drained();
    // The thread's connection closes first, so the main one is the last and checkpoints what is left.
    await checkpointer?.close();
    if (db.open) db.close();
  }, options.scratch ? new DeferredEventData() : undefined);
}
