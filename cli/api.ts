import { controlPlaneApi, type ControlPlaneApi } from '../testruns/api-client.ts';

/**
 * The API client for a command's `--control-plane` and `--api-key` (or, when that is not set, the
 * older `--admin-key`). Kept out of options.ts, which the agent bundle imports: the agent never
 * needs the API client.
 */
export function apiOf(opts: { controlPlane: string; apiKey?: string; adminKey?: string }): ControlPlaneApi {
  return controlPlaneApi(opts.controlPlane, keyOf(opts));
}

/** The key a command was given: `--api-key` / $ARCSIM_API_KEY first, then `--admin-key` / $ARCSIM_ADMIN_KEY. */
export function keyOf(opts: { apiKey?: string; adminKey?: string }): string | undefined {
  return opts.apiKey || opts.adminKey || undefined;
}
