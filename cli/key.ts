import { Command, Option } from 'commander';
import { ROLES } from '../control-plane/auth/roles.ts';
import { adminKeyOption, apiKeyOption, controlPlaneOption, positiveIntOption } from './options.ts';
import { apiOf } from './api.ts';
import { table } from '../lib/text-table.ts';

/** `arcsim key create|list|revoke`: API keys with roles (needs an admin key). */
export function keyCommand(): Command {
  const cmd = new Command('key').description('manage API keys with roles: reader < responder < contributor < admin (needs an admin key)');
  cmd
    .command('create')
    .description('create an API key with a role; the key is printed once (only its hash is kept)')
    .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
    .option('--name <name>', 'a name for the audit log (default: <role>-<id>)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const k = await apiOf(opts).createKey({ role: opts.role, ...(opts.name ? { name: opts.name } : {}) });
      if (opts.json) return void process.stdout.write(JSON.stringify(k, null, 2) + '\n');
      process.stdout.write(`${k.key}\n`);
      process.stderr.write(`key ${k.id} "${k.name}" with role ${k.role}; shown once, store it now (arcsim key revoke ${k.id} ends it)\n`);
    });
  cmd
    .command('list')
    .description('list API keys (never the keys themselves)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const keys = await apiOf(opts).keys();
      if (opts.json) return void process.stdout.write(JSON.stringify(keys, null, 2) + '\n');
      process.stdout.write(table(keys, ['id', 'name', 'role', 'createdAt', 'createdBy', 'lastUsedAt', 'revoked']) + '\n');
    });
  cmd
    .command('revoke <id>')
    .description('revoke an API key: refused from its next request on, portal sessions included')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (id: string, opts) => {
      await apiOf(opts).revokeKey(id);
      process.stdout.write(`revoked ${id}\n`);
    });
  return cmd;
}

/** `arcsim audit`: the audit log of every write, newest first (needs an admin key). */
export function auditCommand(): Command {
  return new Command('audit')
    .description('show the audit log of every API write, newest first: who, role, what, result (needs an admin key)')
    .addOption(new Option('--limit <n>', 'entries per page (at most 1000)').default(50).argParser(positiveIntOption))
    .addOption(new Option('--before <id>', 'only entries older than this id (the "next page" hint)').argParser(positiveIntOption))
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const page = await apiOf(opts).audit({ limit: opts.limit, before: opts.before });
      if (opts.json) return void process.stdout.write(JSON.stringify(page, null, 2) + '\n');
      process.stdout.write(table(page.value, ['id', 'at', 'who', 'role', 'method', 'target', 'status']) + '\n');
      if (page.nextBefore !== null) process.stderr.write(`older entries: arcsim audit --before ${page.nextBefore}\n`);
    });
}
