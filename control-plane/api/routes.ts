import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ArcsimError, issuePath, protocolError } from '../../protocol/index.ts';
import { parseDuration } from '../../lib/duration.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { isAdminKey } from '../auth/admin-key.ts';
import { createEnrollmentToken, enrollAgent, TokenRequestSchema } from '../auth/enrollment.ts';
import { toMdcAlert } from '../alerts/mdc-alert.ts';
import { toArcMachine, toArcSqlInstance } from './arc-machine.ts';
import type { MachineRow } from '../store/index.ts';

export interface ApiDeps {
  store: Store;
  clock: Clock;
  version: string;
  /** The control plane's own base URL, for links inside resources. */
  baseUrl(): string;
  connectedAgents(): string[];
  setExtension(machineName: string, name: string, enabled: boolean): Promise<{ machine: MachineRow; delivered: boolean; message?: string }>;
}

/** Parses `data` with `schema` or throws ARCSIM_E_VALIDATION naming the first bad path. */
function parse<T extends z.ZodType>(schema: T, data: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(data ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [where, issuePath(issue.path)].filter(Boolean).join('.');
  throw protocolError('ARCSIM_E_VALIDATION', `${path}: ${issue.message}`, path);
}

const EnrollBody = z.strictObject({ token: z.string().min(1).max(512), hostname: z.string().max(255).optional() });
const TokenBody = TokenRequestSchema.omit({ ttlMs: true }).extend({ ttl: z.string().default('24h') });
const ExtensionBody = z.strictObject({ enabled: z.boolean() });
const AlertQuery = z.strictObject({
  severity: z.enum(['Informational', 'Low', 'Medium', 'High']).optional(),
  status: z.enum(['Active', 'InProgress', 'Resolved', 'Dismissed']).optional(),
  alertType: z.string().optional(),
  detonationId: z.string().optional(),
});

/** REST API under /api. State-changing calls need `Authorization: Bearer <admin key>`. */
export function registerRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { store, clock } = deps;

  const requireAdmin = async (req: FastifyRequest) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!(await isAdminKey(store, m?.[1]))) throw protocolError('ARCSIM_E_UNAUTHORIZED');
  };

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

  app.get('/api/alerts', async (req) => {
    const q = parse(AlertQuery, req.query, 'query');
    const rows = await store.listAlerts(q);
    return { value: await Promise.all(rows.map(async (r) => toMdcAlert(r, deps.baseUrl(), await detonationsOf(store, r.systemAlertId)))) };
  });

  app.get('/api/alerts/:id', async (req) => {
    const { id } = req.params as { id: string };
    const row = await store.getAlert(id);
    if (!row) throw protocolError('ARCSIM_E_NOT_FOUND', `no alert ${id}`);
    return toMdcAlert(row, deps.baseUrl(), await detonationsOf(store, id));
  });
}

async function detonationsOf(store: Store, id: string): Promise<string[]> {
  return [...new Set((await store.alertEvents(id)).map((e) => e.detonationId).filter((d): d is string => d !== null))];
}
