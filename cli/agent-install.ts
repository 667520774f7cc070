import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { installLocal, status, uninstall } from '../agent/installer.ts';
import { AGENT_ARTIFACT } from '../protocol/agent-service.ts';
import { caFileOption, controlPlaneOption } from './options.ts';
import { loadPinnedCa } from '../agent/pinned-ca.ts';

const rootOption = 'install under this root instead of / (default: $ARCSIM_ROOT or /); for tests and staging';

/** Builds the agent bundle from this checkout's sources into a temp dir; returns the dir (the caller removes it). */
function buildFromSources(): string {
  const out = mkdtempSync(join(tmpdir(), 'arcsim-agent-build-'));
  const script = join(import.meta.dirname, '..', 'scripts', 'build-agent.mjs');
  const r = spawnSync(process.execPath, [script, '--quiet', '--out-dir', out], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`could not build the agent bundle: ${r.stderr || r.error?.message}`);
  }
  return out;
}

/**
 * `arcsim agent install | uninstall | status`: the local equivalent of the control plane's
 * install.sh. `install` installs `artifact` (the running agent bundle) or, from the sources,
 * a bundle built now.
 */
export function agentInstallCommands(artifact?: string): Command[] {
  const install = new Command('install')
    .description('install the agent bundle as a systemd service: the one file, state dir, enrollment, unit file, systemctl enable --now')
    .addOption(controlPlaneOption({ required: true }))
    .addOption(caFileOption())
    .addOption(new Option('--token <token>', 'enrollment token').env('ARCSIM_TOKEN').makeOptionMandatory())
    .option('--root <dir>', rootOption)
    .option('--no-start', 'write everything but do not call systemctl')
    .action(async (opts) => {
      const ca = opts.caFile ? loadPinnedCa(opts.caFile) : undefined;
      const built = artifact ? undefined : buildFromSources();
      try {
        const log = await installLocal({
          root: opts.root ?? process.env.ARCSIM_ROOT, controlPlane: opts.controlPlane, token: opts.token,
          artifact: artifact ?? join(built!, AGENT_ARTIFACT), start: opts.start, ca,
        });
        process.stdout.write(log.join('\n') + '\n');
      } finally {
        if (built) rmSync(built, { recursive: true, force: true });
      }
    });
  const remove = new Command('uninstall')
    .description('stop and disable the service, deregister from the control plane (its machine is deleted, its key revoked), remove the unit, config and installed bundle (the state dir stays unless --purge); without a reachable control plane the files are removed and the machine stays registered')
    .option('--root <dir>', rootOption)
    .option('--purge', 'also remove the state dir (identity, spool)')
    .action(async (opts) => {
      process.stdout.write((await uninstall({ root: opts.root ?? process.env.ARCSIM_ROOT, purge: !!opts.purge })).join('\n') + '\n');
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
