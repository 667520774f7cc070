import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const IdentitySchema = z.strictObject({
  agentId: z.string().min(1),
  agentKey: z.string().min(1),
  controlPlane: z.string().url(),
  subscription: z.string().optional(),
  resourceGroup: z.string().optional(),
  enrolledAt: z.string(),
});
export type Identity = z.infer<typeof IdentitySchema>;

export const IDENTITY_FILE = 'identity.json';

/** Reads the agent identity from the state dir; undefined when the agent has not enrolled. */
export function loadIdentity(stateDir: string): Identity | undefined {
  let text: string;
  try {
    text = readFileSync(join(stateDir, IDENTITY_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = IdentitySchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${join(stateDir, IDENTITY_FILE)} is damaged (${parsed.error.issues[0]!.message}); delete it and enroll again`);
  return parsed.data;
}

/**
 * Writes the identity atomically and durably with mode 0600 (the state dir itself is 0700): a
 * temp file, fsync, rename over the old one, fsync of the dir. After a crash the file holds the
 * old identity or the new one, never a mix; once this returns the new one survives a power cut
 * (key rotation relies on it: the old key stops working when the agent says it has the new one).
 */
export function saveIdentity(stateDir: string, identity: Identity): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  const file = join(stateDir, IDENTITY_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(identity, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  syncDir(stateDir);
}

/** fsync of a directory, so a rename in it is durable (not possible on every platform: best effort there). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch { /* e.g. Windows cannot open a directory */ } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function forgetIdentity(stateDir: string): void {
  rmSync(join(stateDir, IDENTITY_FILE), { force: true });
}
