import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface Identity {
  agentId: string;
  agentKey: string;
  /** The control plane's URL (http or https). */
  controlPlane: string;
  subscription?: string;
  resourceGroup?: string;
  enrolledAt: string;
}

const IDENTITY_KEYS = ['agentId', 'agentKey', 'controlPlane', 'subscription', 'resourceGroup', 'enrolledAt'];

/**
 * What is wrong with an identity document, or undefined when it is one. Checked by hand (the agent
 * reads it at every start and key rotation, and an idle agent loads no zod: agent/idle-decoder.ts).
 */
function identityProblem(d: unknown): string | undefined {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'not a JSON object';
  const o = d as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !IDENTITY_KEYS.includes(k));
  if (unknown.length) return `unknown keys ${unknown.join(', ')}`;
  for (const k of ['agentId', 'agentKey', 'enrolledAt', 'controlPlane']) {
    if (typeof o[k] !== 'string' || (k !== 'enrolledAt' && o[k] === '')) return `${k} must be a non-empty string`;
  }
  for (const k of ['subscription', 'resourceGroup']) if (o[k] !== undefined && typeof o[k] !== 'string') return `${k} must be a string`;
  if (!URL.canParse(o.controlPlane as string)) return 'controlPlane is not a URL';
  return undefined;
}

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
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    doc = err;
  }
  const problem = doc instanceof Error ? `not JSON: ${doc.message}` : identityProblem(doc);
  if (problem) throw new Error(`${join(stateDir, IDENTITY_FILE)} is damaged (${problem}); delete it and enroll again`);
  return doc as Identity;
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
