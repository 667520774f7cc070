import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../lib/logger.ts';
import { redactUrl } from '../control-plane/store/index.ts';
import { durationOption, portOption } from './options.ts';
import { startControlPlane, untilSignal } from './service.ts';

export function controlPlaneCommand(): Command {
  return new Command('control-plane')
    .description('run the control plane (REST API + agent WebSocket gateway) on an embedded SQLite store, or on PostgreSQL (--store) so several replicas share one database')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'TCP port (0 = any free port)').default(7070).argParser(portOption))
    .option('--data-dir <dir>', 'where the SQLite store (arcsim.db) lives', '.arcsim/control-plane')
    .addOption(
      new Option('--store <url>', 'PostgreSQL store instead of SQLite, e.g. postgres://arcsim@127.0.0.1:5432/arcsim; every replica given the same URL shares alerts, dedup and incidents')
        .env('ARCSIM_STORE_URL').argParser(storeUrlOption),
    )
    .option('--rules <dir>', 'directory of Sigma rule files (default: the shipped rules)')
    .addOption(new Option('--heartbeat-interval <duration>', 'heartbeat interval asked of agents (real Arc: 5m)').default(30_000, '30s').argParser(durationOption))
    .option('--reset-admin-key', 'generate a new admin API key (the old one stops working)')
    .option('--log-format <fmt>', 'json | pretty', 'json')
    .action(async (opts) => {
      const logger = createLogger({ format: opts.logFormat === 'pretty' ? 'pretty' : 'json', component: 'control-plane' });
      const svc = await startControlPlane({
        dataDir: opts.dataDir, storeUrl: opts.store, host: opts.host, port: opts.port, rulesDir: opts.rules, resetAdminKey: opts.resetAdminKey, logger,
        heartbeatIntervalSec: Math.max(1, Math.round(opts.heartbeatInterval / 1000)),
      });
      const where = opts.store ? `store: ${redactUrl(opts.store)}` : `data: ${opts.dataDir}`;
      process.stdout.write(`arcsim control plane listening on ${svc.url} (${where})\n`);
      if (svc.adminKey) {
        process.stdout.write(
          `\nAdmin API key (shown once, only its hash is stored):\n  ${svc.adminKey}\n` +
            'Use it as "Authorization: Bearer <key>" or export ARCSIM_ADMIN_KEY for "arcsim token create".\n\n',
        );
      }
      const sig = await untilSignal();
      logger.info('stopping', { signal: sig });
      await svc.stop();
    });
}

/** `--store` / ARCSIM_STORE_URL: a PostgreSQL URL (SQLite needs none: it is the default, in --data-dir). */
export function storeUrlOption(value: string): string {
  if (!/^postgres(ql)?:\/\/./.test(value)) throw new InvalidArgumentError('a PostgreSQL URL, postgres://user[:password]@host[:port]/database');
  return value;
}
