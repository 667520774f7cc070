import { ArcsimError } from '../protocol/errors.ts';
import { agentCommand } from './agent.ts';

/**
 * The agent alone (`bin/arcsim-agent.js`, what the systemd unit runs): the same commands as
 * `arcsim agent`, without loading the control plane, so an idle agent stays small.
 */
export async function agentMain(argv: string[]): Promise<void> {
  try {
    await agentCommand().name('arcsim-agent').showHelpAfterError().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`arcsim-agent: ${err instanceof ArcsimError ? `${err.code}: ` : ''}${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
