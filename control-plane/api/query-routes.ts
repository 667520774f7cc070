import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { queryStore, toHuntingResult, type QueryLimits } from '../query/index.ts';
import { ROLE, ERROR_RESPONSES } from './http.ts';

/** A query's text at most, characters (Defender's own editor has no published cap; this bounds parsing). */
const MAX_QUERY_CHARS = 100_000;

const HuntingBody = z.strictObject({ Query: z.string().min(1).max(MAX_QUERY_CHARS).describe('a KQL query over the advanced hunting tables (docs/query.md)') });
const HuntingReply = z.object({
  Schema: z.array(z.object({ Name: z.string(), Type: z.string().describe('String, Int64, Int32, Double, Boolean, DateTime, TimeSpan, Object, Guid') })),
  Results: z.array(z.record(z.string(), z.unknown())),
  Stats: z.object({
    RowCount: z.number().int(), Truncated: z.boolean().describe('rows were cut at the row cap (10,000) or a table scan reached its cap'),
    ExecutionTimeMs: z.number().int(),
  }).describe("arcsim's own statistics"),
}).meta({ id: 'HuntingResult', description: 'Defender for Endpoint advanced hunting result' });

export interface QueryRouteDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
  queryLimits?: Partial<QueryLimits>;
}

/** KQL over the lab's data, in the shapes of Microsoft's APIs. */
export const queryRoutes: FastifyPluginAsyncZod<QueryRouteDeps> = async (app, deps) => {
  app.post('/api/advancedqueries/run', {
    schema: {
      tags: ['query'], summary: 'Run an advanced hunting query (KQL), as Defender for Endpoint\'s API does', security: ROLE.reader,
      body: HuntingBody, response: { 200: HuntingReply, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const started = performance.now();
    const result = await queryStore(req.body.Query, { store: deps.store, baseUrl: deps.baseUrl, now: () => new Date(deps.clock.now()), limits: deps.queryLimits });
    return toHuntingResult(result, performance.now() - started);
  });
};
