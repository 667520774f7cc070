import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { ERROR_RESPONSES } from './http.ts';
import type { Transport } from '../tls/transport.ts';

const Health = z.looseObject({
  status: z.literal('ok'),
  version: z.string(),
  store: z.string().describe('sqlite or postgres'),
  migrations: z.unknown().describe('applied store migrations'),
  connectedAgents: z.number().int().describe('agents with an open WebSocket to this replica'),
  time: z.string().describe('the control plane clock, ISO 8601'),
  transport: z.enum(['https', 'http-loopback', 'http-insecure'])
    .describe('https; http-loopback: plain http that only this host can reach; http-insecure: plain http on the network (--insecure-http), keys travel in clear'),
});

/** `GET /api/health` and the OpenAPI document itself. */
export const metaRoutes: FastifyPluginAsyncZod<{ store: Pick<Store, 'kind' | 'migrations'>; clock: Clock; version: string; connectedAgents(): string[]; transport: Transport }> = async (app, deps) => {
  const { store, clock } = deps;
  const tags = ['meta'];

  app.get('/api/health', { schema: { tags, summary: 'Liveness, version, store and connected agents', response: { 200: Health, ...ERROR_RESPONSES } } }, async () => ({
    status: 'ok' as const,
    version: deps.version,
    store: store.kind,
    migrations: await store.migrations(),
    connectedAgents: deps.connectedAgents().length,
    time: new Date(clock.now()).toISOString(),
    transport: deps.transport,
  }));

  app.get('/openapi.json', {
    schema: { tags, summary: 'This OpenAPI 3 document', response: { 200: z.looseObject({}) } },
  }, async () => ({ ...app.swagger() }));
};
