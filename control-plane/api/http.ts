import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { issuePath, protocolError } from '../../protocol/index.ts';
import type { Store } from '../store/index.ts';
import { isAdminKey } from '../auth/admin-key.ts';

/** Parses `data` with `schema` or throws ARCSIM_E_VALIDATION naming the first bad path. */
export function parse<T extends z.ZodType>(schema: T, data: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(data ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [where, issuePath(issue.path)].filter(Boolean).join('.');
  throw protocolError('ARCSIM_E_VALIDATION', `${path}: ${issue.message}`, path);
}

/**
 * A preHandler that refuses the request unless it carries `Authorization: Bearer <admin key>`.
 * `processKey` is a random key that only exists in this process's memory: in-process callers (the
 * lab, tests) use it with `app.inject`, so they need not know, print or rotate the stored admin key.
 */
export function adminGuard(store: Store, processKey?: string): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
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
