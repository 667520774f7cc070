import { Command, Option } from 'commander';
import { formatDuration } from '../lib/duration.ts';
import { adminKeyOption, apiKeyOption, controlPlaneOption, durationOption, positiveIntOption } from './options.ts';
import { apiOf } from './api.ts';
import { table } from '../lib/text-table.ts';

export function tokenCommand(): Command {
  const cmd = new Command('token').description('manage enrollment tokens (agents exchange one for their identity)');
  cmd
    .command('create')
    .description('create an expiring enrollment token scoped to a subscription and resource group')
    .requiredOption('--subscription <id>', 'subscription id the agents register into')
    .requiredOption('--resource-group <name>', 'resource group the agents register into')
    .option('--location <region>', 'Azure region recorded on the machines', 'eastus')
    .addOption(new Option('--ttl <duration>', 'lifetime, e.g. 1h, 24h, 7d (at most 365d)').default(86_400_000, '24h').argParser(durationOption))
    .addOption(new Option('--max-uses <n>', 'how many agents the token may enroll (at most 10000); one VM per token unless given').default(1).argParser(positiveIntOption))
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const t = await apiOf(opts).createToken({
        subscription: opts.subscription, resourceGroup: opts.resourceGroup, location: opts.location, ttl: formatDuration(opts.ttl), maxUses: opts.maxUses,
      });
      if (opts.json) return void process.stdout.write(JSON.stringify(t, null, 2) + '\n');
      process.stdout.write(`${t.token}\n`);
      process.stderr.write(`token ${t.id} for /subscriptions/${t.subscription}/resourceGroups/${t.resourceGroup}, expires ${t.expiresAt}, enrolls ${t.maxUses ?? 'any number of'} agent(s)\n`);
    });
  cmd
    .command('list')
    .description('list enrollment tokens (never their secrets)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const tokens = await apiOf(opts).tokens();
      if (opts.json) return void process.stdout.write(JSON.stringify(tokens, null, 2) + '\n');
      process.stdout.write(table(tokens.map((t) => ({ ...t, maxUses: t.maxUses ?? '-' })), ['id', 'subscription', 'resourceGroup', 'expiresAt', 'expired', 'revoked', 'uses', 'maxUses']) + '\n');
    });
  cmd
    .command('revoke <id>')
    .description('revoke a token so it can enroll no more agents (agents it already enrolled stay, unless --cascade)')
    .option('--cascade', 'also revoke every agent enrolled with the token: they are disconnected now and cannot reconnect')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (id: string, opts) => {
      const r = await apiOf(opts).revokeToken(id, { cascade: !!opts.cascade });
      process.stdout.write(`revoked ${id}\n`);
      if (opts.cascade) process.stdout.write(`revoked ${r.revokedAgents.length} agent(s)${r.revokedAgents.length ? `: ${r.revokedAgents.join(', ')}` : ''}\n`);
    });
  return cmd;
}
