import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../lib/logger.ts';
import { Agent } from '../agent/index.ts';
import { loadScheduleFile } from '../agent/scheduler.ts';
import { untilSignal } from './service.ts';

export function agentCommand(): Command {
  const cmd = new Command('agent').description('the host agent: registers this machine and plays scenarios as synthetic events');
  cmd
    .command('run', { isDefault: true })
    .description('enroll (once), connect, register this host and heartbeat until stopped (the default)')
    .requiredOption('--control-plane <url>', 'control-plane base URL, e.g. http://127.0.0.1:7070')
    .option('--token <token>', 'enrollment token (first start, and to re-enroll if the control plane forgets the agent)')
    .option('--state-dir <dir>', 'where the agent keeps its identity (mode 0600)', join(homedir(), '.arcsim', 'agent'))
    .option('--log-format <fmt>', 'json | pretty', 'pretty')
    .option('--schedule <file>', 'YAML file of cron-scheduled scenario runs (see docs/scenarios.md)')
    .action(async (opts) => {
      const logger = createLogger({ format: opts.logFormat === 'json' ? 'json' : 'pretty', component: 'agent' });
      const schedules = opts.schedule ? loadScheduleFile(opts.schedule) : undefined;
      const agent = new Agent({ controlPlane: opts.controlPlane, token: opts.token, stateDir: opts.stateDir, logger, schedules });
      agent.on('registered', (m) => logger.info('registered', { machineId: m.machineId, heartbeatIntervalSec: m.heartbeatIntervalSec }));
      agent.on('disconnected', (code) => logger.warn('disconnected; reconnecting with backoff', { code }));
      const fatal = new Promise<Error>((resolve) => agent.once('fatal', resolve));
      await agent.start();
      const outcome = await Promise.race([untilSignal(), fatal]);
      await agent.stop();
      if (outcome instanceof Error) throw outcome;
    });
  return cmd;
}
