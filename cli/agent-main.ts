import '../agent/lean-zod.ts';
import { ArcsimError } from '../protocol/errors.ts';
import { EXIT_REVOKED } from '../protocol/agent-service.ts';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { agentCommand } from './agent.ts';
import { throwUsageErrors, usageExitCode } from './usage.ts';

const SELF = fileURLToPath(import.meta.url);
/** True in the agent bundle (arcsim-agent.cjs, scripts/build-agent.mjs), false when run from the sources. */
const BUNDLED = SELF.endsWith('.cjs');

/**
 * The agent alone (the bundle arcsim-agent.cjs, what the systemd unit runs; bin/arcsim-agent.js in
 * a checkout): the same commands as `arcsim agent`, without the control plane, so an idle agent
 * stays small; `run` takes the host inventory in a short-lived child process running this same
 * entry, so it never loads systeminformation either. From the bundle, `install` installs the
 * bundle itself. Exit codes as `arcsim`'s: 2 for a usage error, 1 for any other error, and
 * EXIT_REVOKED (78) when the control plane revoked the agent, which systemd does not restart.
 */
export async function agentMain(argv: string[]): Promise<void> {
  const entry = BUNDLED ? SELF : fileURLToPath(new URL('../bin/arcsim-agent.js', import.meta.url));
  try {
    const program = agentCommand({ inventoryEntry: entry, artifact: BUNDLED ? SELF : undefined }).name('arcsim-agent').showHelpAfterError();
    await throwUsageErrors(program).parseAsync(argv);
  } catch (err) {
    const usage = usageExitCode(err);
    if (usage !== undefined) {
      process.exitCode = usage;
      return;
    }
    process.stderr.write(`arcsim-agent: ${err instanceof ArcsimError ? `${err.code}: ` : ''}${(err as Error).message}\n`);
    // A revoked agent must stay down: the unit does not restart on this status (RestartPreventExitStatus).
    process.exitCode = err instanceof ArcsimError && err.code === 'ARCSIM_E_AGENT_REVOKED' ? EXIT_REVOKED : 1;
  }
}

// Run directly as the bundle (`node arcsim-agent.cjs ...`); bin/arcsim-agent.js calls agentMain itself.
// Not awaited: the bundle is a CommonJS script, which has no top-level await; agentMain handles its
// own errors (exit code), and the process lives as long as what it started.
if (BUNDLED && process.argv[1] && realpathSync(process.argv[1]) === SELF) void agentMain(process.argv);
