import type { Store } from '../store/index.ts';
import { hashSecret, newSecret } from './secrets.ts';

/** The settings key holding the admin key's hash. */
export const ADMIN_KEY_SETTING = 'admin_key_hash';
const SETTING = ADMIN_KEY_SETTING;

/**
 * Makes sure an admin API key exists. Returns the new key in clear text when one was just
 * generated (the only time it is ever available), or undefined when one was already set.
 */
export async function ensureAdminKey(store: Pick<Store, 'settings'>, options: { reset?: boolean } = {}): Promise<string | undefined> {
  if (!options.reset && (await store.settings.getSetting(SETTING))) return undefined;
  const key = newSecret('arcsim_admin');
  await store.settings.setSetting(SETTING, hashSecret(key));
  return key;
}
