import { Command, Option } from 'commander';
import { createLogger } from '../lib/logger.ts';
import { durationOption, portOption } from './options.ts';
import { startControlPlane, untilSignal } from './service.ts';

export function controlPlaneCommand(): Command {
  return new Command('control-plane')
    .description('run the control plane (REST API + agent WebSocket gateway) on an embedded SQLite store')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'TCP port (0 = any free port)').default(7070).argParser(portOption))
    .option('--data-dir <dir>', 'where the SQLite store (arcsim.db) lives', '.arcsim/control-plane')
    .option('--rules <dir>', 'directory of Sigma rule files (default: the shipped rules)')
    .addOption(new Option('--heartbeat-interval <duration>', 'heartbeat interval asked of agents (real Arc: 5m)').default(30_000, '30s').argParser(durationOption))
    .option('--reset-admin-key', 'generate a new admin API key (the old one stops working)')
    .option('--log-format <fmt>', 'json | pretty', 'json')
    .action(async (opts) => {
      const logger = createLogger({ format: opts.logFormat === 'pretty' ? 'pretty' : 'json', component: 'control-plane' });
      const svc = await startControlPlane({
        dataDir: opts.dataDir, host: opts.host, port: opts.port, rulesDir: opts.rules, resetAdminKey: opts.resetAdminKey, logger,
        heartbeatIntervalSec: Math.max(1, Math.round(opts.heartbeatInterval / 1000)),
      });
      process.stdout.write(`arcsim control plane listening on ${svc.url} (data: ${opts.dataDir})\n`);
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
