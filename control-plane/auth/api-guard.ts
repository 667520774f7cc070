import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/swagger'; // declares `schema.security`
import { fastifyCookie } from '@fastify/cookie';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { callerOfKey, callerOfKeyHash, type Caller } from './api-keys.ts';
import { SESSION_COOKIE, type PortalSession, type PortalSessions } from './portal-sessions.ts';
import { neededRole, roleAllows } from './roles.ts';

export type { Caller } from './api-keys.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    /** The portal sign-in session the request came with, when it came with one. */
    portalSession?: PortalSession;
  }
}

export interface ApiGuardDeps {
  store: Pick<Store, 'settings' | 'keys'>;
  clock: Clock;
  /** A random key that exists only in this process's memory (see below). */
  processKey?: string;
  /** Portal sign-in sessions: their cookie is honoured on /portal pages only. */
  sessions?: PortalSessions;
}

/** True for the portal's pages, where a browser without a session is sent to the sign-in form. */
export const isPortalPath = (url: string) => url === '/portal' || url.startsWith('/portal/') || url.startsWith('/portal?');

/**
 * The one API guard, an onRequest hook for the whole server (so it runs before the body is read):
 * a route whose schema declares the `apiKey` security with a role (`ROLE.reader`, api/http.ts) is
 * refused with 401 unless the request carries `Authorization: Bearer <key>` of a known key — the
 * admin key or a stored, unrevoked API key — and with 403 when that key's role is weaker than the
 * route's. Agent keys and enrollment tokens are not API keys: 401. On /portal pages a sign-in
 * session cookie counts as its key, and a browser with neither is redirected (303) to the sign-in
 * form. `processKey` is a random key that only exists in this process's memory: in-process callers
 * (the lab, tests) use it with `app.inject` as admin, so they need not know, print or rotate a stored key.
 */
export function apiGuard(deps: ApiGuardDeps): ApiAuth {
  const { store, clock, processKey, sessions } = deps;

  const identify = async (req: FastifyRequest): Promise<Caller | undefined> => {
    const presented = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (presented !== undefined) {
      if (processKey !== undefined && safeEqual(presented, processKey)) return { name: 'process', role: 'admin' };
      return callerOfKey(store, presented, clock);
    }
    if (!isPortalPath(req.url) || !sessions || !req.headers.cookie) return undefined;
    const session = sessions.get(fastifyCookie.parse(req.headers.cookie)[SESSION_COOKIE]);
    if (!session) return undefined;
    const caller = await callerOfKeyHash(store, session.keyHash, clock);
    if (caller) req.portalSession = session;
    else sessions.close(session.id); // its key was revoked
    return caller;
  };

  const onRequest = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const needed = neededRole(req.routeOptions.schema?.security);
    if (needed === undefined) return;
    const caller = await identify(req);
    if (!caller) {
      if (isPortalPath(req.url) && req.headers.authorization === undefined) return reply.status(303).header('location', '/portal/login').send();
      throw protocolError('ARCSIM_E_UNAUTHORIZED');
    }
    req.caller = caller;
    if (!roleAllows(caller.role, needed)) throw protocolError('ARCSIM_E_FORBIDDEN', `this call needs the ${needed} role; the key has ${caller.role}`);
  };

  return { onRequest, identify };
}

/** The guard's hook, and the lookup it is built on (for a public route that shows more to a known caller). */
export interface ApiAuth {
  onRequest(req: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  /** The caller the request's key (or portal session) stands for, without refusing anything. */
  identify(req: FastifyRequest): Promise<Caller | undefined>;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
