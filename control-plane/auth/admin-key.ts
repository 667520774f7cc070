import type { Store } from '../store/index.ts';
import { hashSecret, newSecret, secretMatches } from './secrets.ts';

const SETTING = 'admin_key_hash';

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

/** True when `presented` is the admin key. */
export async function isAdminKey(store: Pick<Store, 'settings'>, presented: string | undefined): Promise<boolean> {
  if (!presented) return false;
  const hash = await store.settings.getSetting(SETTING);
  return hash !== undefined && secretMatches(presented, hash);
}
