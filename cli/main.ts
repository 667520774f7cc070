import { queryCommand } from './query.ts';
import { Command } from 'commander';
import { VERSION } from '../lib/version.ts';
import { ArcsimError } from '../protocol/errors.ts';
import { throwUsageErrors, usageExitCode } from './usage.ts';
import { labCommand } from './lab.ts';
import { controlPlaneCommand } from './control-plane.ts';
import { agentCommand } from './agent.ts';
import { agentAdminCommands } from './agent-admin.ts';
import { tokenCommand } from './token.ts';
import { scenarioCommand } from './scenario.ts';
import { detectCommand } from './detect.ts';
import { rulesCommand } from './rules.ts';
import { coverageCommand } from './coverage.ts';
import { cspmCommand, inventoryCommand, planCommand } from './cspm.ts';
import { runCommand } from './run.ts';
import { auditCommand, keyCommand } from './key.ts';
import { tlsCommand } from './tls.ts';
import { exportCommand } from './export.ts';
import { syncCommand } from './sync.ts';
import { vulnCommand } from './vuln.ts';

export { portOption, durationOption, positiveIntOption } from './options.ts';

export function buildProgram(): Command {
  const program = new Command('arcsim')
    .description('Lab simulator of a hybrid-cloud security stack (Defender for Cloud / Endpoint, M365 Defender, Sentinel, Azure Arc).\nScenarios emit synthetic telemetry only: nothing is ever executed on a host.')
    .version(VERSION)
    .showHelpAfterError()
    .enablePositionalOptions();
  program.addCommand(labCommand());
  program.addCommand(controlPlaneCommand());
  const agent = agentCommand();
  for (const c of agentAdminCommands()) agent.addCommand(c);
  program.addCommand(agent);
  program.addCommand(tokenCommand());
  program.addCommand(keyCommand());
  program.addCommand(auditCommand());
  program.addCommand(scenarioCommand());
  program.addCommand(detectCommand());
  program.addCommand(rulesCommand());
  program.addCommand(coverageCommand());
  program.addCommand(cspmCommand());
  program.addCommand(planCommand());
  program.addCommand(inventoryCommand());
  program.addCommand(runCommand());
  program.addCommand(exportCommand());
  program.addCommand(syncCommand());
  program.addCommand(tlsCommand());
  program.addCommand(queryCommand());
  program.addCommand(vulnCommand());
  return program;
}

/**
 * Runs the CLI. Usage errors exit 2 (commander has already printed them); typed errors print as
 * `arcsim: CODE: message` and exit 1; `--help` and `--version` exit 0.
 */
export async function main(argv: string[]): Promise<void> {
  const program = throwUsageErrors(buildProgram());
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const usage = usageExitCode(err);
    if (usage !== undefined) {
      process.exitCode = usage;
      return;
    }
    if (err instanceof ArcsimError) {
      process.stderr.write(`arcsim: ${err.code}: ${err.message}\n`);
    } else {
      process.stderr.write(`arcsim: ${(err as Error).message}\n`);
    }
    process.exitCode = 1;
  }
}
