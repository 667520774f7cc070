import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ArcsimError, protocolError } from '../../protocol/index.ts';
import { parseDuration } from '../../lib/duration.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { createEnrollmentToken, enrollAgent, TokenRequestSchema } from '../auth/enrollment.ts';
import { toArcMachine, toArcSqlInstance } from './arc-machine.ts';
import type { MachineRow } from '../store/index.ts';
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
  setExtension(machineName: string, name: string, enabled: boolean): Promise<{ machine: MachineRow; delivered: boolean; message?: string }>;
}


const EnrollBody = z.strictObject({ token: z.string().min(1).max(512), hostname: z.string().max(255).optional() });
const TokenBody = TokenRequestSchema.omit({ ttlMs: true }).extend({ ttl: z.string().default('24h') });
const ExtensionBody = z.strictObject({ enabled: z.boolean() });

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

  const locationOf = async (m: MachineRow) => (await store.getAgent(m.agentId))?.location ?? 'eastus';
  const arcMachine = async (m: MachineRow) =>
    toArcMachine(m, await locationOf(m), { identityConflicts: (await store.listIdentityConflicts(m.agentId)).length });
  const machineNamed = async (name: string) => {
    const m = (await store.listMachines()).find((x) => x.name === name);
    if (!m) throw protocolError('ARCSIM_E_NOT_FOUND', `no machine named ${name}`);
    return m;
  };

  app.get('/api/machines', async () => ({ value: await Promise.all((await store.listMachines()).map(arcMachine)) }));

  app.get('/api/machines/:name', async (req) => arcMachine(await machineNamed((req.params as { name: string }).name)));

  app.get('/api/machines/:name/extensions', async (req) => {
    const arc = await arcMachine(await machineNamed((req.params as { name: string }).name));
    return { value: (arc.properties as { extensions: unknown[] }).extensions };
  });

  registerAlertRoutes(app, { store, clock, baseUrl: deps.baseUrl, sync: deps.sync, requireAdmin });
  registerPortal(app, { store, baseUrl: deps.baseUrl });
  registerAgentRoutes(app, { store, connectedAgents: deps.connectedAgents, command: deps.command, requireAdmin });
  registerRunRoutes(app, { store, baseUrl: deps.baseUrl, requireAdmin });

  // Installs (enabled: true) or removes an extension; pushed at once to the agent if it is connected,
  // and sent again in `registered` on every reconnect.
  app.put('/api/machines/:name/extensions/:ext', { preHandler: requireAdmin }, async (req) => {
    const { name, ext } = req.params as { name: string; ext: string };
    const body = parse(ExtensionBody, req.body, 'body');
    const r = await deps.setExtension(name, ext, body.enabled);
    return { name: ext, enabled: body.enabled, delivered: r.delivered, message: r.message, machine: await arcMachine(r.machine) };
  });

  app.get('/api/sql-instances', async () => {
    const out: unknown[] = [];
    for (const m of await store.listMachines()) {
      const location = await locationOf(m);
      for (const s of m.sqlInstances) out.push(toArcSqlInstance(m, s, location));
    }
    return { value: out };
  });

  app.get('/api/identity-conflicts', async () => ({
    value: (await store.listIdentityConflicts()).map((c) => ({
      id: c.id, agentId: c.agentId, detectedAt: new Date(c.detectedAt).toISOString(), differences: c.differences,
      remoteAddress: c.remoteAddress,
      live: { hostname: c.existingFacts.hostname, vmUuid: c.existingFacts.vmUuid },
      refused: { hostname: c.newcomerFacts.hostname, vmUuid: c.newcomerFacts.vmUuid },
    })),
  }));
}
