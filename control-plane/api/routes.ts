import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ArcsimError, protocolError } from '../../protocol/index.ts';
import { parseDuration } from '../../lib/duration.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { createEnrollmentToken, enrollAgent, TokenRequestSchema } from '../auth/enrollment.ts';
import { toArcMachine } from './arc-machine.ts';
import { adminGuard, parse } from './http.ts';
import { registerAlertRoutes } from './alert-routes.ts';
import { registerPortal } from './portal.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import type { CommandBody, CommandResult } from '../gateway/agent-session.ts';
import { registerAgentRoutes } from './agent-routes.ts';
import { registerRunRoutes } from './run-routes.ts';

export interface ApiDeps {
  store: Store;
  clock: Clock;
  version: string;
  /** The control plane's own base URL, for links inside resources. */
  baseUrl(): string;
  connectedAgents(): string[];
  command(agentId: string, body: CommandBody, timeoutMs: number): Promise<CommandResult>;
  sync: SyncConfig;
  /** A per-process admin key for in-process callers (see adminGuard). */
  processAdminKey?: string;
}


const EnrollBody = z.strictObject({ token: z.string().min(1).max(512), hostname: z.string().max(255).optional() });
const TokenBody = TokenRequestSchema.omit({ ttlMs: true }).extend({ ttl: z.string().default('24h') });

/** REST API under /api. State-changing calls need `Authorization: Bearer <admin key>`. */
export function registerRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { store, clock } = deps;

  const requireAdmin = adminGuard(store, deps.processAdminKey);

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ArcsimError) return reply.status(err.status).send(err.toJSON());
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's own client errors (bad JSON body, body too large, wrong content type).
      const code = e.statusCode === 413 ? 'ARCSIM_E_FRAME_TOO_LARGE' : 'ARCSIM_E_VALIDATION';
      return reply.status(e.statusCode).send({ code, message: e.message });
    }
    req.log.error(err);
    return reply.status(500).send(protocolError('ARCSIM_E_INTERNAL').toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(protocolError('ARCSIM_E_NOT_FOUND', `${req.method} ${req.url}`).toJSON());
  });

  app.get('/api/health', async () => ({
    status: 'ok',
    version: deps.version,
    store: store.kind,
    migrations: await store.migrations(),
    connectedAgents: deps.connectedAgents().length,
    time: new Date(clock.now()).toISOString(),
  }));

  app.post('/api/enroll', async (req, reply) => {
    const body = parse(EnrollBody, req.body, 'body');
    const { agentId, agentKey, row } = await enrollAgent(store, body.token, body.hostname, clock);
    return reply.status(201).send({ agentId, agentKey, subscription: row.subscription, resourceGroup: row.resourceGroup, location: row.location });
  });

  app.post('/api/tokens', { preHandler: requireAdmin }, async (req, reply) => {
    const body = parse(TokenBody, req.body, 'body');
    let ttlMs: number;
    try {
      ttlMs = parseDuration(body.ttl);
    } catch (err) {
      throw protocolError('ARCSIM_E_VALIDATION', (err as Error).message, 'body.ttl');
    }
    const t = await createEnrollmentToken(store, { subscription: body.subscription, resourceGroup: body.resourceGroup, location: body.location, ttlMs }, clock);
    return reply.status(201).send({ ...t, expiresAt: new Date(t.expiresAt).toISOString() });
  });

  app.get('/api/tokens', { preHandler: requireAdmin }, async () => ({
    value: (await store.listTokens()).map((t) => ({
      id: t.id, subscription: t.subscription, resourceGroup: t.resourceGroup, location: t.location,
      createdAt: new Date(t.createdAt).toISOString(), expiresAt: new Date(t.expiresAt).toISOString(),
      revoked: t.revokedAt !== null, expired: clock.now() >= t.expiresAt, uses: t.uses,
    })),
  }));

  app.delete('/api/tokens/:id', { preHandler: requireAdmin }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!(await store.revokeToken(id, clock.now()))) throw protocolError('ARCSIM_E_NOT_FOUND', `no active token ${id}`);
    return reply.status(204).send();
  });

  app.get('/api/machines', async () => {
    const machines = await store.listMachines();
    return { value: await Promise.all(machines.map(async (m) => toArcMachine(m, (await store.getAgent(m.agentId))?.location ?? 'eastus'))) };
  });

  app.get('/api/machines/:name', async (req) => {
    const { name } = req.params as { name: string };
    const m = (await store.listMachines()).find((x) => x.name === name);
    if (!m) throw protocolError('ARCSIM_E_NOT_FOUND', `no machine named ${name}`);
    return toArcMachine(m, (await store.getAgent(m.agentId))?.location ?? 'eastus');
  });

  registerAlertRoutes(app, { store, clock, baseUrl: deps.baseUrl, sync: deps.sync, requireAdmin });
  registerPortal(app, { store, baseUrl: deps.baseUrl });
  registerAgentRoutes(app, { store, connectedAgents: deps.connectedAgents, command: deps.command, requireAdmin });
  registerRunRoutes(app, { store, baseUrl: deps.baseUrl, requireAdmin });
}
