import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/** Writes the identity atomically with mode 0600 (the state dir itself is 0700). */
export function saveIdentity(stateDir: string, identity: Identity): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  const file = join(stateDir, IDENTITY_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(identity, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function forgetIdentity(stateDir: string): void {
  rmSync(join(stateDir, IDENTITY_FILE), { force: true });
}
