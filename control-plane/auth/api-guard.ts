import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/swagger'; // declares `schema.security`
import { protocolError } from '../../protocol/index.ts';
import type { Store } from '../store/index.ts';
import { isAdminKey } from './admin-key.ts';
import { neededRole, roleAllows, type Role } from './roles.ts';

/** Who made a request, set by the guard on routes that declare a role. */
export interface Caller {
  /** A name for audit lines: the key's name, `admin` for the admin key, `process` for in-process calls. */
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

/**
 * The one API guard, an onRequest hook for the whole API (so it runs before the body is read): a
 * route whose schema declares the `apiKey` security with a role (`ROLE.contributor`, api/http.ts)
 * is refused with 401 unless the request carries `Authorization: Bearer <key>` of a known key,
 * and with 403 when that key's role is weaker than the route's. `processKey` is a random key that
 * only exists in this process's memory: in-process callers (the lab, tests) use it with
 * `app.inject` as admin, so they need not know, print or rotate a stored key.
 */
export function apiGuard(store: Pick<Store, 'settings'>, processKey?: string): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const needed = neededRole(req.routeOptions.schema?.security);
    if (needed === undefined) return;
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const presented = m?.[1];
    let caller: Caller | undefined;
    if (processKey !== undefined && presented !== undefined && safeEqual(presented, processKey)) caller = { name: 'process', role: 'admin' };
    else if (await isAdminKey(store, presented)) caller = { name: 'admin', role: 'admin' };
    if (!caller) throw protocolError('ARCSIM_E_UNAUTHORIZED');
    if (!roleAllows(caller.role, needed)) throw protocolError('ARCSIM_E_FORBIDDEN', `this call needs the ${needed} role; the key has ${caller.role}`);
    req.caller = caller;
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
