import type { Store } from '../store/index.ts';
import { hashSecret, newSecret } from './secrets.ts';

/** The settings key holding the admin key's hash. */
export const ADMIN_KEY_SETTING = 'admin_key_hash';
const SETTING = ADMIN_KEY_SETTING;

/**
 * Makes sure an admin API key exists. Returns the new key in clear text when one was just
 * generated (the only time it is ever available), or undefined when one was already set.
 * Replicas starting together on an empty database race here: the key is stored with an
 * insert-if-absent, so exactly one of them creates it (and gets it back to print); the others
 * get undefined and share that key. `reset` replaces the key unconditionally.
 */
export async function ensureAdminKey(store: Pick<Store, 'settings'>, options: { reset?: boolean } = {}): Promise<string | undefined> {
  const key = newSecret('arcsim_admin');
  if (options.reset) {
    await store.settings.setSetting(SETTING, hashSecret(key));
    return key;
  }
  if (await store.settings.getSetting(SETTING)) return undefined;
  return (await store.settings.addSetting(SETTING, hashSecret(key))) ? key : undefined;
}
