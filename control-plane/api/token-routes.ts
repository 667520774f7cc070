import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { createEnrollmentToken, enrollAgent, MAX_TOKEN_TTL_MS, MAX_TOKEN_USES, TokenRequestSchema } from '../auth/enrollment.ts';
import { ROLE, durationMs, ERROR_RESPONSES, listOf } from './http.ts';

const EnrollBody = z.strictObject({ token: z.string().min(1).max(512), hostname: z.string().max(255).optional() });
const Enrolled = z.object({
  agentId: z.string(), agentKey: z.string().describe('shown once; the control plane keeps only its hash'),
  subscription: z.string(), resourceGroup: z.string(), location: z.string(),
});
const TokenBody = TokenRequestSchema.omit({ ttlMs: true, maxUses: true }).extend({
  ttl: durationMs('24h').pipe(z.number().int('whole milliseconds').positive('a token must live longer than 0').max(MAX_TOKEN_TTL_MS, 'at most 365d')),
  maxUses: z.number().int().min(1).max(MAX_TOKEN_USES).default(1).describe('how many agents the token may enroll (default 1)'),
});
const NewToken = z.object({
  id: z.string(), token: z.string().describe('shown once'), expiresAt: z.string(), subscription: z.string(), resourceGroup: z.string(), location: z.string(),
  maxUses: z.number().int().nullable().describe('null: no limit'),
});
const Token = z.object({
  id: z.string(), subscription: z.string(), resourceGroup: z.string(), location: z.string(), createdAt: z.string(), expiresAt: z.string(),
  revoked: z.boolean(), expired: z.boolean(), uses: z.number().int(), maxUses: z.number().int().nullable().describe('null: no limit'),
});
const RevokeQuery = z.strictObject({
  cascade: z.enum(['true', 'false']).default('false').transform((v) => v === 'true').describe('also revoke (and disconnect) every agent enrolled with the token'),
});
const Revoked = z.object({ id: z.string(), revokedAgents: z.array(z.string()).describe('agent ids revoked by the cascade') });

export interface TokenRouteDeps {
  store: Pick<Store, 'agents'>;
  clock: Clock;
  /** Closes the sockets of agents whose key was just revoked. */
  disconnectRevoked(agentIds: string[]): void;
}

/** Enrollment: an agent trades a token for its identity; admins create, list and revoke tokens. */
export const tokenRoutes: FastifyPluginAsyncZod<TokenRouteDeps> = async (app, { store, clock, disconnectRevoked }) => {
  const tags = ['enrollment'];

  app.post('/api/enroll', {
    // The enrollment token in the body is the credential; the route checks it itself.
    config: { public: true },
    schema: { tags, summary: 'Enroll an agent with a token', body: EnrollBody, response: { 201: Enrolled, ...ERROR_RESPONSES } },
  }, async (req, reply) => {
    const { agentId, agentKey, row } = await enrollAgent(store, req.body.token, req.body.hostname, clock);
    return reply.status(201).send({ agentId, agentKey, subscription: row.subscription, resourceGroup: row.resourceGroup, location: row.location });
  });

  app.post('/api/tokens', {
    schema: { tags, summary: 'Create an enrollment token', security: ROLE.admin, body: TokenBody, response: { 201: NewToken, ...ERROR_RESPONSES } },
  }, async (req, reply) => {
    const { ttl, ...scope } = req.body;
    const t = await createEnrollmentToken(store, { ...scope, ttlMs: ttl }, clock);
    return reply.status(201).send({ ...t, expiresAt: new Date(t.expiresAt).toISOString() });
  });

  app.get('/api/tokens', {
    schema: { tags, summary: 'List enrollment tokens (never their secret)', security: ROLE.admin, response: { 200: listOf(Token), ...ERROR_RESPONSES } },
  }, async () => ({
    value: (await store.agents.listTokens()).map((t) => ({
      id: t.id, subscription: t.subscription, resourceGroup: t.resourceGroup, location: t.location,
      createdAt: new Date(t.createdAt).toISOString(), expiresAt: new Date(t.expiresAt).toISOString(),
      revoked: t.revokedAt !== null, expired: clock.now() >= t.expiresAt, uses: t.uses, maxUses: t.maxUses,
    })),
  }));

  app.delete('/api/tokens/:id', {
    schema: {
      tags, summary: 'Revoke an enrollment token (with ?cascade=true also the agents it enrolled, disconnected at once)', security: ROLE.admin,
      params: z.object({ id: z.string() }), querystring: RevokeQuery,
      response: { 200: Revoked.describe('revoked with ?cascade=true: the agents revoked too'), 204: z.null().describe('revoked'), ...ERROR_RESPONSES },
    },
  }, async (req, reply) => {
    const { id } = req.params;
    const cascade = req.query.cascade;
    const r = await store.agents.revokeToken(id, clock.now(), { cascade });
    // Revoking a revoked token again is a 404 unless it cascades (revoking its agents is still news).
    if (r.outcome === 'missing' || (r.outcome === 'already' && !cascade)) throw protocolError('ARCSIM_E_NOT_FOUND', `no active token ${id}`);
    if (!cascade) return reply.status(204).send(null);
    disconnectRevoked(r.agentIds);
    return reply.status(200).send({ id, revokedAgents: r.agentIds });
  });
};
