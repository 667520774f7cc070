import { controlPlaneApi, type ControlPlaneApi } from '../testruns/api-client.ts';

/**
 * The API client for a command's `--control-plane` and `--admin-key`. Kept out of options.ts,
 * which the agent bundle imports: the agent never needs the admin API client.
 */
export function apiOf(opts: { controlPlane: string; adminKey?: string }): ControlPlaneApi {
  return controlPlaneApi(opts.controlPlane, opts.adminKey);
}
