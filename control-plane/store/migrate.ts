import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Executor } from './executor.ts';
import { sql } from './sql.ts';

/** One migration tree per dialect (the DDL differs), one runner for both. */
const MIGRATIONS_ROOT = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

const Q = {
  create: sql(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`),
  applied: sql(`SELECT version FROM schema_migrations ORDER BY version`),
  record: sql(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
};

/** Reads `NNN_name.sql` files in version order. */
function readMigrations(dir: string): Array<{ version: number; name: string; sql: string }> {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.split('_')[0]), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Applies every pending `migrations/<dialect>/NNN_*.sql`, all in one transaction. Under a lock
 * (PostgreSQL: held until COMMIT), so a second replica starting now waits, then finds nothing to apply.
 */
export async function migrate(ex: Executor): Promise<void> {
  await ex.atomic(async (tx) => {
    await tx.lock('arcsim:migrations');
    await tx.run(Q.create);
    const applied = new Set((await appliedMigrations(tx)));
    for (const m of readMigrations(join(MIGRATIONS_ROOT, ex.dialect))) {
      if (applied.has(m.version)) continue;
      try {
        await tx.exec(m.sql);
      } catch (err) {
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      await tx.run(Q.record, [m.version, m.name, Date.now()]);
    }
  });
}

/** Applied migration versions, oldest first. */
export async function appliedMigrations(ex: Executor): Promise<number[]> {
  return (await ex.all<{ version: number }>(Q.applied)).map((r) => r.version);
}
