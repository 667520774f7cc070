import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { storeFault, type StoreHealth } from '../health/store-health.ts';
import { ERROR_RESPONSES } from './http.ts';

const Health = z.looseObject({
  status: z.enum(['ok', 'degraded']).describe('degraded while store writes fail (503)'),
  reasons: z.array(z.string()).optional().describe('why it is degraded, e.g. "store: disk full (SQLITE_FULL) since 2026-06-01T10:00:00.000Z"'),
  version: z.string(),
  store: z.string().describe('sqlite or postgres'),
  migrations: z.unknown().describe('applied store migrations'),
  connectedAgents: z.number().int().describe('agents with an open WebSocket to this replica'),
  time: z.string().describe('the control plane clock, ISO 8601'),
});

const Ready = z.looseObject({
  status: z.enum(['ready', 'not-ready']),
  reasons: z.array(z.string()).optional().describe('what is not ready (store not answering, no migrations, not accepting agents)'),
});

export interface MetaRouteDeps {
  store: Pick<Store, 'kind' | 'migrations'>;
  clock: Clock;
  version: string;
  connectedAgents(): string[];
  /** Whether store writes currently succeed (told by every batch commit and write fault). */
  health: StoreHealth;
  /** True while the server is listening and accepts agent connections (false before listen and once closing). */
  acceptingAgents(): boolean;
}

/**
 * `GET /api/health` (liveness and write health), `GET /api/ready` (readiness) and the OpenAPI
 * document. Both probes are public (monitors and load balancers call them without a key) and say
 * nothing secret: causes and driver codes, never paths, hosts or credentials.
 */
export const metaRoutes: FastifyPluginAsyncZod<MetaRouteDeps> = async (app, deps) => {
  const { store, clock } = deps;
  const tags = ['meta'];

  app.get('/api/health', {
    config: { public: true },
    schema: { tags, summary: 'Liveness, write health, version, store and connected agents (503 while store writes fail)', response: { 200: Health, 503: Health, ...ERROR_RESPONSES } },
  }, async (_req, reply) => {
    const reasons = deps.health.state().reasons ?? [];
    let migrations: unknown = null;
    try {
      migrations = await store.migrations();
    } catch (err) {
      // A store that is down or full is a reason; anything else is a fault of ours (a typed 500).
      const cause = storeFault(err);
      if (!cause) throw err;
      reasons.push(`store: ${cause}`);
    }
    const healthy = reasons.length === 0;
    const body = {
      status: healthy ? 'ok' as const : 'degraded' as const,
      ...(healthy ? {} : { reasons }),
      version: deps.version,
      store: store.kind,
      migrations,
      connectedAgents: deps.connectedAgents().length,
      time: new Date(clock.now()).toISOString(),
    };
    return reply.status(healthy ? 200 : 503).send(body);
  });

  app.get('/api/ready', {
    config: { public: true },
    schema: { tags, summary: 'Readiness: 200 only when the store answers, its migrations are applied and agents are accepted', response: { 200: Ready, 503: Ready, ...ERROR_RESPONSES } },
  }, async (_req, reply) => {
    const reasons: string[] = [];
    try {
      const applied = await store.migrations();
      if (applied.length === 0) reasons.push('store: no migrations applied');
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      reasons.push(`store: not answering${typeof code === 'string' ? ` (${code})` : ''}`);
    }
    if (!deps.acceptingAgents()) reasons.push('gateway: not accepting agent connections');
    return reasons.length === 0 ? reply.status(200).send({ status: 'ready' as const }) : reply.status(503).send({ status: 'not-ready' as const, reasons });
  });

  app.get('/openapi.json', {
    schema: { tags, summary: 'This OpenAPI 3 document', response: { 200: z.looseObject({}) } },
  }, async () => ({ ...app.swagger() }));
};
