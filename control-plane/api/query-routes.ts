import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import type { Store } from '../store/index.ts';
import { protocolError } from '../../protocol/index.ts';
import { ARG_TABLES, parseIsoTimespan, queryStore, toHuntingResult, toLogAnalyticsTable, type QueryLimits } from '../query/index.ts';
import { toJsonValue } from '../query/values.ts';
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

const GraphHuntingBody = z.strictObject({
  Query: z.string().min(1).max(MAX_QUERY_CHARS).describe('a KQL query over the advanced hunting tables'),
  Timespan: z.string().max(100).optional().describe('ISO 8601 (P1D, start/end): rows outside it by Timestamp are not seen'),
});
const GraphHuntingReply = z.object({
  '@odata.context': z.string(),
  schema: z.array(z.object({ name: z.string(), type: z.string() })),
  results: z.array(z.record(z.string(), z.unknown())),
}).meta({ id: 'HuntingQueryResults', description: 'Microsoft Graph security huntingQueryResults' });

/** Azure Resource Graph returns at most 1,000 rows a page (`$top` ≤ 1000, default 1000). */
const ARG_PAGE_ROWS = 1000;

const ArgBody = z.looseObject({
  subscriptions: z.array(z.string()).optional().describe('accepted; the lab has one tenant and every subscription is in scope'),
  managementGroups: z.array(z.string()).optional(),
  query: z.string().min(1).max(MAX_QUERY_CHARS),
  options: z.looseObject({
    $top: z.number().int().min(1).max(ARG_PAGE_ROWS).optional(),
    $skip: z.number().int().min(0).optional(),
    $skipToken: z.string().max(64).optional(),
    resultFormat: z.enum(['objectArray', 'table']).optional(),
  }).optional(),
  facets: z.array(z.unknown()).optional(),
});
const ArgQuery = z.object({ 'api-version': z.string().describe('2022-10-01 (others are accepted and answered the same)') });
const ArgReply = z.object({
  totalRecords: z.number().int(), count: z.number().int(), resultTruncated: z.enum(['true', 'false']), $skipToken: z.string().optional(),
  data: z.unknown().describe('objectArray: an array of rows; table: {columns, rows}'), facets: z.array(z.unknown()),
}).meta({ id: 'ResourceGraphResult', description: 'Azure Resource Graph query result' });

const LaParams = z.object({ workspaceId: z.string().min(1).max(128) });
const LaBody = z.strictObject({
  query: z.string().min(1).max(MAX_QUERY_CHARS),
  timespan: z.string().max(100).optional().describe('ISO 8601: PT1H, P1D, start/end or start/duration'),
  workspaces: z.array(z.string()).optional(),
});
const LaReply = z.object({
  tables: z.array(z.object({ name: z.string(), columns: z.array(z.object({ name: z.string(), type: z.string() })), rows: z.array(z.array(z.unknown())) })),
}).meta({ id: 'LogAnalyticsResult', description: 'Log Analytics query API result' });

export interface QueryRouteDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
  queryLimits?: Partial<QueryLimits>;
}

/** KQL over the lab's data, in the shapes of Microsoft's APIs. */
export const queryRoutes: FastifyPluginAsyncZod<QueryRouteDeps> = async (app, deps) => {
  app.post('/api/advancedqueries/run', {
    config: { readOnly: true },
    schema: {
      tags: ['query'], summary: 'Run an advanced hunting query (KQL), as Defender for Endpoint\'s API does', security: ROLE.reader,
      body: HuntingBody, response: { 200: HuntingReply, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const started = performance.now();
    const result = await queryStore(req.body.Query, { store: deps.store, baseUrl: deps.baseUrl, now: () => new Date(deps.clock.now()), limits: deps.queryLimits });
    return toHuntingResult(result, performance.now() - started);
  });

  app.post('/v1.0/security/runHuntingQuery', {
    config: { readOnly: true },
    schema: {
      tags: ['query'], summary: 'Run an advanced hunting query (Microsoft Graph security runHuntingQuery)', security: ROLE.reader,
      body: GraphHuntingBody, response: { 200: GraphHuntingReply, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const now = deps.clock.now();
    const window = req.body.Timespan === undefined ? undefined : parseIsoTimespan(req.body.Timespan, now);
    if (req.body.Timespan !== undefined && !window) throw protocolError('ARCSIM_E_VALIDATION', 'body.Timespan: not an ISO 8601 duration or interval', 'body.Timespan');
    const result = await queryStore(req.body.Query, { store: deps.store, baseUrl: deps.baseUrl, now: () => new Date(now), window, limits: deps.queryLimits });
    const hunting = toHuntingResult(result, 0);
    return {
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults',
      schema: hunting.Schema.map((c) => ({ name: c.Name, type: c.Type })),
      results: hunting.Results,
    };
  });

  app.post('/providers/Microsoft.ResourceGraph/resources', {
    schema: {
      tags: ['query'], summary: 'Azure Resource Graph query (resources, securityresources)', security: ROLE.reader,
      querystring: ArgQuery, body: ArgBody, response: { 200: ArgReply, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const o = req.body.options ?? {};
    const top = o.$top ?? ARG_PAGE_ROWS;
    let skip = o.$skip ?? 0;
    if (o.$skipToken !== undefined) {
      const n = Number(Buffer.from(o.$skipToken, 'base64url').toString());
      if (!Number.isInteger(n) || n < 0) throw protocolError('ARCSIM_E_VALIDATION', 'options.$skipToken is not one this API gave', 'body.options.$skipToken');
      skip = n;
    }
    const result = await queryStore(req.body.query, {
      store: deps.store, baseUrl: deps.baseUrl, now: () => new Date(deps.clock.now()), tables: ARG_TABLES, limits: deps.queryLimits,
    });
    const page = result.rows.slice(skip, skip + top);
    const next = skip + page.length < result.rows.length ? Buffer.from(String(skip + page.length)).toString('base64url') : undefined;
    const data = o.resultFormat === 'table'
      ? { columns: result.columns.map((c) => ({ name: c.name, type: c.type === 'dynamic' ? 'object' : c.type })), rows: page.map((r) => result.columns.map((c) => toJsonValue(r[c.name] ?? null))) }
      : page.map((r) => Object.fromEntries(result.columns.map((c) => [c.name, toJsonValue(r[c.name] ?? null)])));
    return {
      totalRecords: result.rows.length, count: page.length, resultTruncated: result.truncated ? 'true' as const : 'false' as const,
      ...(next ? { $skipToken: next } : {}), data, facets: [],
    };
  });

  app.post('/v1/workspaces/:workspaceId/query', {
    schema: {
      tags: ['query'], summary: 'Log Analytics query API (SecurityAlert, SecurityIncident, the device tables)', security: ROLE.reader,
      params: LaParams, body: LaBody, response: { 200: LaReply, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const now = deps.clock.now();
    const window = req.body.timespan === undefined ? undefined : parseIsoTimespan(req.body.timespan, now);
    if (req.body.timespan !== undefined && !window) throw protocolError('ARCSIM_E_VALIDATION', 'body.timespan: not an ISO 8601 duration or interval', 'body.timespan');
    const result = await queryStore(req.body.query, { store: deps.store, baseUrl: deps.baseUrl, now: () => new Date(now), window, limits: deps.queryLimits });
    return { tables: [toLogAnalyticsTable(result)] };
  });
};
