import { randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { ApiKeyRow, Store } from '../store/index.ts';
import { ADMIN_KEY_SETTING } from './admin-key.ts';
import { ROLES, type Role } from './roles.ts';
import { hashSecret, newSecret } from './secrets.ts';

/** Who made a request: set by the API guard, written to the audit log. */
export interface Caller {
  /** The key's name; `admin` for the admin key, `process` for in-process calls (the lab, tests). */
  name: string;
  role: Role;
  /** The stored key's id (api_keys.id); absent for the admin and in-process keys. */
  keyId?: string;
}

export const KeyRequestSchema = z.strictObject({
  role: z.enum(ROLES),
  name: z.string().regex(/^[\w.@-]{1,64}$/, 'a key name: up to 64 of letters, digits and _ . @ -').optional(),
});
export type KeyRequest = z.input<typeof KeyRequestSchema>;

/** `last_used_at` is written at most this often per key, so reads do not each cost a write, ms. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Creates a stored API key with a role. The clear key is returned once (prefix `arcsim_<role>`);
 * only its SHA-256 hash is kept. `createdBy` names the caller for the record.
 */
export async function createApiKey(store: Pick<Store, 'keys'>, request: KeyRequest, createdBy: string, clock: Clock): Promise<{ key: string; row: ApiKeyRow }> {
  const r = KeyRequestSchema.parse(request);
  const key = newSecret(`arcsim_${r.role}`);
  const id = `k_${randomUUID()}`;
  const row: ApiKeyRow = {
    id, name: r.name ?? `${r.role}-${id.slice(2, 10)}`, role: r.role, keyHash: hashSecret(key),
    createdAt: clock.now(), createdBy, revokedAt: null, lastUsedAt: null,
  };
  await store.keys.insertKey(row);
  return { key, row };
}

/**
 * Resolves the hash of a presented key to its caller: the admin key (settings), then the stored
 * keys (api_keys, not revoked). Comparisons of hashes are constant-time. Anything else — an agent
 * key `<agentId>.<agentKey>`, an enrollment token, a revoked key — resolves to undefined.
 */
export async function callerOfKeyHash(store: Pick<Store, 'settings' | 'keys'>, keyHash: string, clock: Clock): Promise<Caller | undefined> {
  const adminHash = await store.settings.getSetting(ADMIN_KEY_SETTING);
  if (adminHash !== undefined && sameHex(keyHash, adminHash)) return { name: 'admin', role: 'admin' };
  const row = await store.keys.findKeyByHash(keyHash);
  if (!row || !sameHex(keyHash, row.keyHash) || row.revokedAt !== null) return undefined;
  const now = clock.now();
  if (row.lastUsedAt === null || now - row.lastUsedAt >= TOUCH_EVERY_MS) await store.keys.touchKey(row.id, now);
  return { name: row.name, role: row.role, keyId: row.id };
}

/** The caller a presented clear-text key stands for, or undefined. */
export function callerOfKey(store: Pick<Store, 'settings' | 'keys'>, presented: string, clock: Clock): Promise<Caller | undefined> {
  return callerOfKeyHash(store, hashSecret(presented), clock);
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
