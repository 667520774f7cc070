import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/swagger'; // declares `schema.security`
import { protocolError } from '../../protocol/index.ts';
import type { Store } from '../store/index.ts';
import { isAdminKey } from './admin-key.ts';

/**
 * The one admin guard, an onRequest hook for the whole API: a route whose schema declares the
 * `adminKey` security requirement (what the OpenAPI document shows) is refused unless the request
 * carries `Authorization: Bearer <admin key>`, so the document and the check cannot disagree.
 * `processKey` is a random key that only exists in this process's memory: in-process callers (the
 * lab, tests) use it with `app.inject`, so they need not know, print or rotate the stored admin key.
 */
export function adminGuard(store: Pick<Store, 'settings'>, processKey?: string): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    if (!req.routeOptions.schema?.security?.some((s) => 'adminKey' in s)) return;
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (processKey !== undefined && m?.[1] !== undefined && safeEqual(m[1], processKey)) return;
    if (!(await isAdminKey(store, m?.[1]))) throw protocolError('ARCSIM_E_UNAUTHORIZED');
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
