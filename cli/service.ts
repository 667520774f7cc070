import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createControlPlane, openPostgresStore, openSqliteStore, type ControlPlane, type ControlPlaneConfig, type Store } from '../control-plane/index.ts';
import type { Logger } from '../lib/logger.ts';
import { protocolError } from '../protocol/errors.ts';
import type { RunResult } from '../protocol/index.ts';
import { toJUnit } from '../testruns/reports/junit.ts';
import { toMarkdown } from '../testruns/reports/markdown.ts';
import { toNavigatorLayer } from '../testruns/reports/navigator.ts';

/** The run reports the portal offers for download (the same as `arcsim run --junit/--navigator/--report`). */
const RUN_REPORTS = {
  junit: (r: unknown) => toJUnit(r as RunResult),
  navigator: (r: unknown) => toNavigatorLayer(r as RunResult),
  markdown: (r: unknown) => toMarkdown(r as RunResult),
};

export interface StartedControlPlane {
  cp: ControlPlane;
  store: Store;
  url: string;
  /** Set on first start (or reset): the admin key in clear text, to print once. */
  adminKey: string | undefined;
  stop(): Promise<void>;
}

/**
 * Opens the store — PostgreSQL at `storeUrl` when given (several replicas may share it), else the
 * SQLite file in `dataDir` — starts the control plane and listens.
 */
export async function startControlPlane(options: {
  dataDir: string; storeUrl?: string; host: string; port: number; resetAdminKey?: boolean; logger: Logger;
  /** The rest of the control-plane settings (rules, sync, limits, lateness, inventory, public URL). */
  config?: Omit<ControlPlaneConfig, 'host' | 'port'>;
}): Promise<StartedControlPlane> {
  const sqliteFile = join(resolve(options.dataDir), 'arcsim.db');
  if (!options.storeUrl) {
    // The data dir is arcsim's own: owner-only, created so and tightened if it exists.
    mkdirSync(resolve(options.dataDir), { recursive: true, mode: 0o700 });
    chmodSync(resolve(options.dataDir), 0o700);
  }
  // The default import directory (<data dir>/import) is created for the user to drop cloud outputs in.
  const importDir = options.config?.inventory?.importDir;
  if (importDir && !existsSync(importDir)) mkdirSync(importDir, { recursive: true, mode: 0o700 });
  const store = options.storeUrl
    ? await openPostgresStore({ connectionString: options.storeUrl, logger: options.logger })
    : openSqliteStore({ file: sqliteFile });
  if (!options.storeUrl) {
    // SQLite migrates in the background of its first calls: wait for it here, so a store that
    // cannot be migrated stops the start-up with its own error (PostgreSQL's open already waited).
    try {
      await store.migrations();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw protocolError('ARCSIM_E_STORE_UNAVAILABLE', `${sqliteFile}: ${(err as Error).message}`);
    }
  }
  let cp: ControlPlane;
  try {
    cp = createControlPlane({ store, logger: options.logger, config: { ...options.config, host: options.host, port: options.port }, runReports: RUN_REPORTS });
  } catch (err) {
    await store.close();
    throw err;
  }
  const adminKey = await cp.ensureAdminKey({ reset: options.resetAdminKey });
  let url: string;
  try {
    url = await cp.listen();
  } catch (err) {
    await cp.close().catch(() => undefined);
    await store.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${options.port} on ${options.host} is already in use; pick another with --port (0 = any free port)`);
    }
    throw err;
  }
  return {
    cp, store, url, adminKey,
    async stop() {
      await cp.close();
      await store.close();
    },
  };
}

export { untilSignal } from './signals.ts';
