import { ArcsimError } from '../protocol/errors.ts';
import { fileURLToPath } from 'node:url';
import { agentCommand } from './agent.ts';

/** The service entry; its `collect-inventory` runs in a child for every inventory (agent/inventory-child.ts). */
const ENTRY = fileURLToPath(new URL('../bin/arcsim-agent.js', import.meta.url));

/**
 * The agent alone (`bin/arcsim-agent.js`, what the systemd unit runs): the same commands as
 * `arcsim agent`, without loading the control plane, so an idle agent stays small; `run` takes the
 * host inventory in a short-lived child process, so it never loads systeminformation either.
 */
export async function agentMain(argv: string[]): Promise<void> {
  try {
    await agentCommand({ inventoryEntry: ENTRY }).name('arcsim-agent').showHelpAfterError().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`arcsim-agent: ${err instanceof ArcsimError ? `${err.code}: ` : ''}${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
