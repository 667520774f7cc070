import { InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../lib/duration.ts';

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

export function urlOption(value: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) throw new InvalidArgumentError('an http:// or https:// URL, e.g. http://127.0.0.1:7070');
  return value;
}

const DEFAULT_CONTROL_PLANE = 'http://127.0.0.1:7070';

/**
 * `--control-plane`, also read from $ARCSIM_CONTROL_PLANE so one export serves a shell session.
 * Admin commands default to the local control plane; an agent (`required`) must be told where it is.
 */
export function controlPlaneOption(options: { required?: boolean } = {}): Option {
  const option = new Option('--control-plane <url>', 'control-plane base URL').env('ARCSIM_CONTROL_PLANE').argParser(urlOption);
  return options.required ? option.makeOptionMandatory() : option.default(DEFAULT_CONTROL_PLANE);
}

/**
 * `--api-key`, also read from $ARCSIM_API_KEY: the key every API command sends (reads need a
 * reader key, changes a stronger role; `arcsim key create` makes one). Never defaulted to an empty key.
 */
export const apiKeyOption = () =>
  new Option('--api-key <key>', 'API key (arcsim key create --role R makes one; the admin key also works)').env('ARCSIM_API_KEY');

/**
 * `--ca-file`, also read from $ARCSIM_CA_FILE (install.sh writes it to the service's env file): the
 * CA an agent pins for an https control plane.
 */
export const caFileOption = () =>
  new Option('--ca-file <file>', 'PEM CA the agent trusts, alone, for an https control plane (pinned; install.sh puts the lab CA in /etc/arcsim-agent/ca.pem); default: the system CAs').env('ARCSIM_CA_FILE');

/** `--admin-key`, also read from $ARCSIM_ADMIN_KEY: the older name, used when no --api-key is given. */
export const adminKeyOption = () =>
  new Option('--admin-key <key>', 'admin API key (printed once when the control plane first started); --api-key wins when both are set').env('ARCSIM_ADMIN_KEY');
