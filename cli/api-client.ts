import { Option } from 'commander';

/** The admin key from --admin-key or $ARCSIM_ADMIN_KEY. */
export function adminKey(opts: { adminKey?: string }): string {
  const key = opts.adminKey ?? process.env.ARCSIM_ADMIN_KEY;
  if (!key) throw new Error('the admin API key is needed: pass --admin-key or set ARCSIM_ADMIN_KEY (printed once when the control plane first started)');
  return key;
}

/** One REST call with the admin key; a non-2xx reply throws `CODE: message`. */
export async function call(cp: string, key: string, method: string, path: string, body?: unknown): Promise<any> {
  let res: Response;
  try {
    res = await fetch(new URL(path, cp), {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    throw new Error(`cannot reach the control plane at ${cp}: ${(err as Error).message}`);
  }
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new Error(`${json?.code ?? res.status}: ${json?.message ?? text}`);
  return json;
}

export const cpOption = () => new Option('--control-plane <url>', 'control-plane base URL').default('http://127.0.0.1:7070');
export const keyOption = () => new Option('--admin-key <key>', 'admin API key (default: $ARCSIM_ADMIN_KEY)');

