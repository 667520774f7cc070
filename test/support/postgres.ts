import { findPostgresBin, startCluster, type TestPostgres } from '../../lib/postgres-cluster.ts';

export { findPostgresBin, type TestPostgres };

/** Either a running cluster, or why the PostgreSQL tests are skipped (never in CI). */
export type PostgresOrSkip = { pg: TestPostgres; skip: undefined } | { pg: undefined; skip: string };

/**
 * Starts a cluster for the calling test file, or explains why not. Without PostgreSQL binaries the
 * tests are skipped with that reason locally and fail in CI (CI=true), so they never pass silently.
 */
export async function startTestPostgres(): Promise<PostgresOrSkip> {
  const bin = findPostgresBin();
  if (!bin) {
    const reason = 'PostgreSQL binaries (initdb, pg_ctl) not found (ARCSIM_PG_BIN, PATH, /usr/lib/postgresql/*/bin); install them with "apt-get install -y postgresql"';
    if (process.env.CI === 'true') throw new Error(`${reason} (required in CI)`);
    return { pg: undefined, skip: reason };
  }
  return { pg: await startCluster(bin), skip: undefined };
}

