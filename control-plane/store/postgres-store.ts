import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { protocolError } from '../../protocol/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Executor } from './executor.ts';
import { migrate } from './migrate.ts';
import { sql, type Param, type Sql } from './sql.ts';
import { SqlStore } from './sql-store.ts';
import type { Store } from './store.ts';

/** SQLSTATEs after which PostgreSQL has rolled the transaction back and running it again is safe. */
const RETRYABLE = new Set(['40001' /* serialization_failure */, '40P01' /* deadlock_detected */]);
const MAX_ATTEMPTS = 5;

/**
 * Advisory locks (one bigint namespace per database), keyed by a name. Taken with
 * pg_advisory_xact_lock, so they are released by COMMIT/ROLLBACK and can never leak past a transaction.
 */
const LOCK = sql(`SELECT pg_advisory_xact_lock(hashtextextended(?::text, 0))`);

/**
 * Runs statements on the pool (one implicit transaction per statement) or, with `client`, inside
 * that client's transaction. Statements run at READ COMMITTED: each sees everything committed
 * before it started, which is what the upserts in the repositories rely on after they wait for a
 * concurrent writer.
 */
class PgExecutor implements Executor {
  readonly dialect = 'postgres' as const;

  constructor(private readonly pool: pg.Pool, private readonly client?: pg.PoolClient) {}

  private query<R extends pg.QueryResultRow>(q: Sql, params: readonly Param[]): Promise<pg.QueryResult<R>> {
    return (this.client ?? this.pool).query<R>(q.postgres, params as Param[]);
  }

  async all<R>(q: Sql, params: readonly Param[] = []): Promise<R[]> {
    return (await this.query<R & pg.QueryResultRow>(q, params)).rows;
  }

  async get<R>(q: Sql, params: readonly Param[] = []): Promise<R | undefined> {
    return (await this.query<R & pg.QueryResultRow>(q, params)).rows[0];
  }

  async run(q: Sql, params: readonly Param[] = []): Promise<number> {
    return (await this.query(q, params)).rowCount ?? 0;
  }

  async runEach(q: Sql, rows: ReadonlyArray<readonly Param[]>): Promise<number[]> {
    // One at a time: pg refuses overlapping queries on one connection.
    const changes: number[] = [];
    for (const params of rows) changes.push(await this.run(q, params));
    return changes;
  }

  async exec(script: string): Promise<void> {
    await (this.client ?? this.pool).query(script);
  }

  async lock(name: string): Promise<void> {
    // Outside a transaction a lone statement already sees one consistent snapshot: no lock needed.
    if (this.client) await this.query(LOCK, [name]);
  }

  async atomic<T>(fn: (ex: Executor) => Promise<T>): Promise<T> {
    // Already inside the caller's transaction: atomic with everything else it does.
    if (this.client) return fn(this);
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await fn(new PgExecutor(this.pool, client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        // A deadlock or serialization failure rolled everything back: run the whole unit again.
        if (RETRYABLE.has((err as { code?: string }).code ?? '') && attempt < MAX_ATTEMPTS && !broken) {
          await sleep(Math.random() * 20 * attempt);
          continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }
}

/**
 * Rows come back in the shape row-decoding expects from both backends: BIGINT (int8) columns
 * hold epoch milliseconds and ids, far below 2^53, so they are numbers (pg's default is strings);
 * JSON columns stay JSON text (pg's default parses them), decoded in one place like SQLite's.
 */
const TEXT_PARSERS = new Map<number, (v: string) => unknown>([
  [pg.types.builtins.INT8, Number],
  [pg.types.builtins.JSON, (v) => v],
]);
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    (format !== 'binary' && TEXT_PARSERS.get(oid)) || pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (any libpq-style URL pg accepts). */
  connectionString: string;
  /** Pool size: concurrent transactions this replica may hold. */
  maxConnections?: number;
  /** How long to wait for a connection before failing, ms. */
  connectTimeoutMs?: number;
  /** Where idle-connection errors (e.g. the server restarting) are reported. */
  logger?: Logger;
}

const DEFAULTS = {
  maxConnections: 10,
  /** ms */
  connectTimeoutMs: 10_000,
};

/**
 * Opens the PostgreSQL store: a pg pool on `connectionString`, migrated at open (every pending
 * `migrations/postgres/NNN_*.sql` in one transaction, under an advisory lock so replicas starting
 * together migrate once). Any number of replicas may share one database: dedup and idempotency
 * are unique keys and upserts, and read-decide-write steps take transaction-scoped locks.
 * Fails with ARCSIM_E_STORE_UNAVAILABLE when the database cannot be reached or migrated.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? DEFAULTS.maxConnections,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    types: TYPES,
    application_name: 'arcsim-control-plane',
  });
  // Without a listener an idle client's error (server restart, network) would crash the process;
  // the pool drops that client and the next query gets a fresh one.
  pool.on('error', (err) => options.logger?.warn('postgres idle connection error', { error: err.message }));
  const ex = new PgExecutor(pool);
  try {
    await migrate(ex);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw protocolError('ARCSIM_E_STORE_UNAVAILABLE', `${describeUrl(options.connectionString)}: ${(err as Error).message}`);
  }
  let closed = false;
  return new SqlStore(ex, async () => {
    if (closed) return;
    closed = true;
    await pool.end();
  });
}

/** `host:port/database` of a connection string, for messages; never the password. */
export function describeUrl(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    return `postgres at ${u.hostname || 'localhost'}:${u.port || '5432'}/${decodeURIComponent(u.pathname.slice(1)) || '(default database)'}`;
  } catch {
    return 'postgres (unparsable connection string)';
  }
}

/** The connection string with any password replaced by `***`, for logs and start-up messages. */
export function redactUrl(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable)';
  }
}
