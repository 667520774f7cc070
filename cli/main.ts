import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../lib/version.ts';
import { parseDuration } from '../lib/duration.ts';
import { ArcsimError } from '../protocol/errors.ts';
import { labCommand } from './lab.ts';
import { controlPlaneCommand } from './control-plane.ts';
import { agentCommand } from './agent.ts';
import { tokenCommand } from './token.ts';
import { scenarioCommand } from './scenario.ts';
import { detectCommand } from './detect.ts';
import { cspmCommand, inventoryCommand, planCommand } from './cspm.ts';
import { runCommand } from './run.ts';

/** Commander option parsers shared by the subcommands. */
export function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('a TCP port from 0 to 65535');
  return n;
}

export function durationOption(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return n;
}

export function buildProgram(): Command {
  const program = new Command('arcsim')
    .description('Lab simulator of a hybrid-cloud security stack (Defender for Cloud / Endpoint, M365 Defender, Sentinel, Azure Arc).\nScenarios emit synthetic telemetry only: nothing is ever executed on a host.')
    .version(VERSION)
    .showHelpAfterError()
    .enablePositionalOptions();
  program.addCommand(labCommand());
  program.addCommand(controlPlaneCommand());
  program.addCommand(agentCommand());
  program.addCommand(tokenCommand());
  program.addCommand(scenarioCommand());
  program.addCommand(detectCommand());
  program.addCommand(cspmCommand());
  program.addCommand(planCommand());
  program.addCommand(inventoryCommand());
  program.addCommand(runCommand());
  return program;
}

/** Runs the CLI; typed errors print as `code: message` and exit 1 (2 for usage errors). */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof ArcsimError) {
      process.stderr.write(`arcsim: ${err.code}: ${err.message}\n`);
    } else {
      process.stderr.write(`arcsim: ${(err as Error).message}\n`);
    }
    process.exitCode = 1;
  }
}
