import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import type { Caller } from '../auth/api-keys.ts';
import type { FastifyRequest } from 'fastify';
import { ERROR_RESPONSES } from './http.ts';
import type { Transport } from '../tls/transport.ts';

const Health = z.looseObject({
  status: z.literal('ok'),
  store: z.string().describe('sqlite or postgres'),
  time: z.string().describe('the control plane clock, ISO 8601'),
  version: z.string().optional().describe('only with a valid API key'),
  migrations: z.unknown().optional().describe('applied store migrations; only with a valid API key'),
  connectedAgents: z.number().int().optional().describe('agents with an open WebSocket to this replica; only with a valid API key'),
  transport: z.enum(['https', 'http-loopback', 'http-insecure'])
    .describe('https; http-loopback: plain http that only this host can reach; http-insecure: plain http on the network (--insecure-http), keys travel in clear'),
});

/** `GET /api/health` and the OpenAPI document itself. */
export const metaRoutes: FastifyPluginAsyncZod<{ store: Pick<Store, 'kind' | 'migrations'>; clock: Clock; version: string; connectedAgents(): string[]; identify(req: FastifyRequest): Promise<Caller | undefined>; transport: Transport }> = async (app, deps) => {
  const { store, clock } = deps;
  const tags = ['meta'];

  // Public (load balancers and `install.sh` probe it before any key exists), so without a key it
  // says only that the server is up; version, migrations and agent count need any valid key.
  app.get('/api/health', {
    config: { public: true },
    schema: { tags, summary: 'Liveness; with any API key also version, migrations and connected agents', response: { 200: Health, ...ERROR_RESPONSES } },
  }, async (req) => {
    const live = { status: 'ok' as const, store: store.kind, time: new Date(clock.now()).toISOString(), transport: deps.transport };
    if (!(await deps.identify(req))) return live;
    return { ...live, version: deps.version, migrations: await store.migrations(), connectedAgents: deps.connectedAgents().length };
  });

  app.get('/openapi.json', {
    config: { public: true },
    schema: { tags, summary: 'This OpenAPI 3 document', response: { 200: z.looseObject({}) } },
  }, async () => ({ ...app.swagger() }));
};
