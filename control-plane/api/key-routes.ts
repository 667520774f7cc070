import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { ApiKeyRow, Store } from '../store/index.ts';
import { createApiKey, KeyRequestSchema } from '../auth/api-keys.ts';
import { ROLES } from '../auth/roles.ts';
import { ROLE, ERROR_RESPONSES, listOf } from './http.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const KeyInfo = z.object({
  id: z.string(), name: z.string(), role: z.enum(ROLES), createdAt: z.string(), createdBy: z.string(),
  revoked: z.boolean(), revokedAt: z.string().nullable(), lastUsedAt: z.string().nullable().describe('to the minute'),
});
const NewKey = KeyInfo.extend({ key: z.string().describe('the key, shown once; the control plane keeps only its hash') });
const AuditEntry = z.object({
  id: z.number().int(), at: z.string(), who: z.string().describe('key name, `admin`, `process` (in-process lab), or `unknown` (no valid key)'),
  keyId: z.string().nullable(), role: z.string().nullable(), method: z.string(), route: z.string(), target: z.string(),
  status: z.number().int().describe('the HTTP status answered'), remote: z.string().nullable(),
});
const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().positive().optional().describe('only entries with an id below this (the `nextBefore` of the previous page)'),
});

const keyInfo = (k: ApiKeyRow) => ({
  id: k.id, name: k.name, role: k.role, createdAt: iso(k.createdAt)!, createdBy: k.createdBy,
  revoked: k.revokedAt !== null, revokedAt: iso(k.revokedAt), lastUsedAt: iso(k.lastUsedAt),
});

/** API keys with roles (admin only) and the audit log of every write (admin only). */
export const keyRoutes: FastifyPluginAsyncZod<{ store: Pick<Store, 'keys'>; clock: Clock }> = async (app, { store, clock }) => {
  const tags = ['keys'];

  app.post('/api/keys', {
    schema: { tags, summary: 'Create an API key with a role; the key is in the reply, once', security: ROLE.admin, body: KeyRequestSchema, response: { 201: NewKey, ...ERROR_RESPONSES } },
  }, async (req, reply) => {
    const { key, row } = await createApiKey(store, req.body, req.caller?.name ?? 'unknown', clock);
    return reply.status(201).send({ ...keyInfo(row), key });
  });

  app.get('/api/keys', {
    schema: { tags, summary: 'List API keys (never the key itself)', security: ROLE.admin, response: { 200: listOf(KeyInfo), ...ERROR_RESPONSES } },
  }, async () => ({ value: (await store.keys.listKeys()).map(keyInfo) }));

  app.delete('/api/keys/:id', {
    schema: {
      tags, summary: 'Revoke an API key (refused from the next request on)', security: ROLE.admin, params: z.object({ id: z.string().max(100) }),
      response: { 204: z.null().describe('revoked'), ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    if (!(await store.keys.revokeKey(req.params.id, clock.now()))) throw protocolError('ARCSIM_E_NOT_FOUND', `no active API key ${req.params.id}`);
    return reply.status(204).send(null);
  });

  app.get('/api/audit', {
    schema: {
      tags, summary: 'The audit log of every write, newest first', security: ROLE.admin, querystring: AuditQuery,
      response: { 200: listOf(AuditEntry).extend({ nextBefore: z.number().int().nullable().describe('pass as `before` for the next page; null on the last') }), ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const rows = await store.keys.listAudit({ limit: req.query.limit, before: req.query.before });
    return {
      value: rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() })),
      nextBefore: rows.length === req.query.limit ? rows[rows.length - 1]!.id : null,
    };
  });
};
