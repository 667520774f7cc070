import { Argument, Command } from 'commander';
import { SYNC_PROFILES } from '../control-plane/products/sync-matrix.ts';
import type { SyncProfileView } from '../control-plane/products/sync-profile.ts';
import { adminKeyOption, apiKeyOption, controlPlaneOption } from './options.ts';
import { apiOf } from './api.ts';
import { table } from '../lib/text-table.ts';

function print(v: SyncProfileView, json: boolean): void {
  if (json) return void process.stdout.write(JSON.stringify(v, null, 2) + '\n');
  const from = v.source === 'api' ? `chosen by ${v.setBy} at ${v.setAt}` : 'from the config file (or the default)';
  process.stdout.write(
    `sync profile ${v.profile} (${from})\n  ${v.description}\n` +
    `  mdeStatusToMdc: ${v.mdeStatusToMdc}; Sentinel: ${v.sentinel ? 'on' : 'off'}\n` +
    `  edges: ${v.edges.map((e) => `${e.from} -> ${e.to}`).join(', ') || 'none'}\n\n` +
    table(v.profiles.map((p) => ({ profile: p.name === v.profile ? `${p.name} *` : p.name, description: p.description })), ['profile', 'description']) + '\n',
  );
}

/** `arcsim sync profile show|set NAME`: which status change flows between MDE, M365D, MDC and Sentinel. */
export function syncCommand(): Command {
  const cmd = new Command('sync').description('product sync between MDE, M365D (Defender XDR), MDC and Sentinel');
  const profile = cmd.command('profile').description('the sync profile: mdc-classic, sentinel-hub or xdr-unified (docs/products-and-sync.md)');
  profile
    .command('show')
    .description('show the active sync profile, where it came from and its edges (reader key)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (opts) => print(await apiOf(opts).syncProfileInfo(), !!opts.json));
  profile
    .command('set')
    .description('choose the sync profile (contributor key); it applies to alerts raised from now on and to every status change, and is kept across restarts')
    .addArgument(new Argument('<name>', 'profile').choices(SYNC_PROFILES.filter((p) => p !== 'blog-2022')))
    .option('--mde-status-to-mdc', 'the other reading of the seed: a status change in MDE (or M365D) also reaches MDC')
    .option('--no-mde-status-to-mdc', 'MDE status does not reach MDC (the default reading)')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .option('--json', 'print JSON')
    .action(async (name: string, opts, cmd: Command) => {
      const given = cmd.getOptionValueSource('mdeStatusToMdc') === 'cli';
      print(await apiOf(opts).setSyncProfile(name, given ? { mdeStatusToMdc: !!opts.mdeStatusToMdc } : {}), !!opts.json);
    });
  return cmd;
}
