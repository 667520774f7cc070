import { randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';

/** The portal's session cookie (Path=/portal, HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'arcsim_portal';

/** A signed-in browser: which key it signed in with (its hash, never the key), a CSRF token, and when it ends. */
export interface PortalSession {
  id: string;
  keyHash: string;
  /** Sent back in the hidden `csrf` field of every portal form. */
  csrf: string;
  expiresAt: number;
}

export interface PortalSessionOptions {
  /** Session lifetime, ms (8 h: a working day). */
  ttlMs?: number;
  /** Most sessions kept; the oldest is dropped beyond it, so repeated sign-ins cannot fill memory. */
  maxSessions?: number;
  random?: (bytes: number) => Buffer;
}

/**
 * Portal sign-in sessions, in this process's memory: a restart or another replica signs the
 * browser out (it signs in again). The session keeps the key's hash, and the guard resolves it on
 * every request, so revoking the key ends its sessions at once.
 */
export class PortalSessions {
  private readonly sessions = new Map<string, PortalSession>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly random: (bytes: number) => Buffer;

  constructor(private readonly clock: Clock, options: PortalSessionOptions = {}) {
    this.ttlMs = options.ttlMs ?? 8 * 3_600_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.random = options.random ?? randomBytes;
  }

  open(keyHash: string): PortalSession {
    if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const s: PortalSession = {
      id: this.random(32).toString('base64url'), keyHash, csrf: this.random(32).toString('base64url'), expiresAt: this.clock.now() + this.ttlMs,
    };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id; an expired one is forgotten and gives undefined. */
  get(id: string | undefined): PortalSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (s && this.clock.now() >= s.expiresAt) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  close(id: string): void {
    this.sessions.delete(id);
  }

  /** Seconds a new session's cookie lives (Max-Age). */
  get maxAgeSec(): number {
    return Math.floor(this.ttlMs / 1000);
  }
}
