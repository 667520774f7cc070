import { CommanderError, type Command } from 'commander';

/** Exit code of a usage error (unknown option or command, missing or bad argument or option value). */
const USAGE_EXIT_CODE = 2;

/** Makes `cmd` and its subcommands throw their usage errors instead of exiting, so the caller picks the exit code. */
export function throwUsageErrors(cmd: Command): Command {
  cmd.exitOverride();
  for (const sub of cmd.commands) throwUsageErrors(sub);
  return cmd;
}

/**
 * The exit code for an error thrown by a command run under `throwUsageErrors`: 0 for `--help` /
 * `--version`, 2 for a usage error (commander has already printed it), undefined for any other
 * error (the caller prints it and exits 1).
 */
export function usageExitCode(err: unknown): number | undefined {
  if (!(err instanceof CommanderError)) return undefined;
  return err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
}
