import { join } from 'node:path';
import { Command } from 'commander';
import { installLocal, status, uninstall } from '../agent/installer.ts';

const CHECKOUT = join(import.meta.dirname, '..');
const rootOption = 'install under this root instead of / (default: $ARCSIM_ROOT or /); for tests and staging';

/** `arcsim agent install | uninstall | status`: the local equivalent of the control plane's install.sh. */
export function agentInstallCommands(): Command[] {
  const install = new Command('install')
    .description('install this checkout as a systemd service: state dir, enrollment, unit file, systemctl enable --now')
    .requiredOption('--control-plane <url>', 'control-plane base URL')
    .requiredOption('--token <token>', 'enrollment token')
    .option('--root <dir>', rootOption)
    .option('--no-start', 'write everything but do not call systemctl')
    .action(async (opts) => {
      const log = await installLocal({ root: opts.root ?? process.env.ARCSIM_ROOT, controlPlane: opts.controlPlane, token: opts.token, checkout: CHECKOUT, start: opts.start });
      process.stdout.write(log.join('\n') + '\n');
    });
  const remove = new Command('uninstall')
    .description('stop and disable the service, remove the unit and config (the state dir stays unless --purge)')
    .option('--root <dir>', rootOption)
    .option('--purge', 'also remove the state dir (identity, spool)')
    .action((opts) => {
      process.stdout.write(uninstall({ root: opts.root ?? process.env.ARCSIM_ROOT, purge: !!opts.purge }).join('\n') + '\n');
    });
  const show = new Command('status')
    .description('show the installed unit, service state, identity, spooled events and installed extensions')
    .option('--root <dir>', rootOption)
    .option('--state-dir <dir>', 'state dir to inspect (default: the installed one)')
    .option('--json', 'print JSON')
    .action((opts) => {
      const s = status({ root: opts.root ?? process.env.ARCSIM_ROOT, stateDir: opts.stateDir });
      if (opts.json) return void process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      process.stdout.write(
        `unit:          ${s.unitFile ?? '(not installed)'}\nservice:       ${s.active}\nagent id:      ${s.agentId ?? '(not enrolled)'}\n` +
          `control plane: ${s.controlPlane ?? '-'}\nspooled:       ${s.spooledEvents ?? '-'} events not yet acked\nextensions:    ${s.extensions.join(', ') || '(none)'}\n`,
      );
    });
  return [install, remove, show];
}
