import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import type { Caller } from '../auth/api-keys.ts';
import type { FastifyRequest } from 'fastify';
import { storeFault, type StoreHealth } from '../health/store-health.ts';
import { ERROR_RESPONSES, ROLE } from './http.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Transport } from '../tls/transport.ts';
import type { SinkHealth } from '../sinks/index.ts';

const Health = z.looseObject({
  status: z.enum(['ok', 'degraded']).describe('degraded while store writes fail (503)'),
  reasons: z.array(z.string()).optional().describe('why it is degraded, e.g. "store: disk full (SQLITE_FULL) since 2026-06-01T10:00:00.000Z"'),
  store: z.string().describe('sqlite or postgres'),
  time: z.string().describe('the control plane clock, ISO 8601'),
  version: z.string().optional().describe('only with a valid API key'),
  migrations: z.unknown().optional().describe('applied store migrations; only with a valid API key'),
  connectedAgents: z.number().int().optional().describe('agents with an open WebSocket to this replica; only with a valid API key'),
  sinks: z.array(z.object({
    name: z.string(), type: z.enum(['syslog', 'webhook']), state: z.enum(['ok', 'failing']), pending: z.number().int(), lagMs: z.number(),
    failures: z.number().int(), lastError: z.string().nullable(), lastDeliveredAt: z.string().nullable(), nextAttemptAt: z.string().nullable(),
  })).optional().describe('the configured sinks (only when there are some): alert changes waiting, lag of the oldest (ms), failed attempts since the last success, the last error (a cause such as ECONNREFUSED or HTTP 503). A failing sink does not make the control plane degraded'),
  transport: z.enum(['https', 'http-loopback', 'http-insecure'])
    .describe('https; http-loopback: plain http that only this host can reach; http-insecure: plain http on the network (--insecure-http), keys travel in clear'),
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
  /** The caller when the request carries a valid API key (any role), else undefined. */
  identify(req: FastifyRequest): Promise<Caller | undefined>;
  transport: Transport;
  sinks?: { size: number; health(): Promise<SinkHealth[]> };
  /** Prometheus metrics (GET /metrics); absent: the route is not served. */
  metrics?: Metrics;
}

/**
 * `GET /api/health` (liveness and write health), `GET /api/ready` (readiness) and the OpenAPI
 * document. Both probes are public (monitors, load balancers and `install.sh` call them without a
 * key) and say nothing secret: causes and driver codes, never paths, hosts or credentials; version,
 * migrations and the agent count need any valid key.
 */
export const metaRoutes: FastifyPluginAsyncZod<MetaRouteDeps> = async (app, deps) => {
  const { store, clock } = deps;
  const tags = ['meta'];

  app.get('/api/health', {
    config: { public: true },
    schema: { tags, summary: 'Liveness, write health and transport (503 while store writes fail); with any API key also version, migrations and connected agents', response: { 200: Health, 503: Health, ...ERROR_RESPONSES } },
  }, async (req, reply) => {
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
    const known = (await deps.identify(req)) !== undefined;
    let sinks: SinkHealth[] | undefined;
    if (deps.sinks?.size) {
      try {
        sinks = await deps.sinks.health();
      } catch (err) {
        // The store answered above or is already a reason; a sink read failing is not one more.
        if (!storeFault(err)) throw err;
      }
    }
    const body = {
      status: healthy ? 'ok' as const : 'degraded' as const,
      ...(healthy ? {} : { reasons }),
      store: store.kind,
      time: new Date(clock.now()).toISOString(),
      transport: deps.transport,
      ...(sinks ? { sinks } : {}),
      ...(known ? { version: deps.version, migrations, connectedAgents: deps.connectedAgents().length } : {}),
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

  if (deps.metrics) {
    const metrics = deps.metrics;
    // Prometheus scrapes with `authorization: Bearer <key>` (scrape_config `authorization.credentials`): a reader key.
    app.get('/metrics', {
      schema: {
        tags, security: ROLE.reader, produces: ['text/plain'],
        summary: 'Prometheus metrics (text exposition format 0.0.4): events received, stored and refused by table and agent, ack and detection latency histograms, alerts raised and folded, connected agents, agents\' spool depth and drops, store errors, sink backlog and lag, process figures',
      },
    }, async (_req, reply) => {
      reply.type(metrics.contentType).send(await metrics.text());
    });
  }

  app.get('/openapi.json', {
    config: { public: true },
    schema: { tags, summary: 'This OpenAPI 3 document', response: { 200: z.looseObject({}) } },
  }, async () => ({ ...app.swagger() }));
};
