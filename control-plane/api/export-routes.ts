import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import { parseDuration } from '../../lib/duration.ts';
import type { Store } from '../store/index.ts';
import { EXPORT_FORMATS, exportRecords, LAB_TENANT_ID } from '../exports/index.ts';
import { ERROR_RESPONSES, ROLE } from './http.ts';

const ExportQuery = z.strictObject({
  format: z.enum(EXPORT_FORMATS).default('graph').describe('default graph. graph: Microsoft Graph security alerts_v2 and incidents; sentinel: SecurityAlert and SecurityIncident rows; ocsf: OCSF 1.8.0 Detection Finding (2004) and Incident Finding (2005); cef: ArcSight CEF lines (alerts only)'),
  since: z.string().optional().describe('only alerts and incidents changed at or after this time: ISO 8601 (2026-06-01T10:00:00Z) or a duration back from now (24h, 7d)'),
});

const ExportReply = z.object({
  format: z.enum(EXPORT_FORMATS),
  since: z.string().nullable(),
  generatedAt: z.string(),
  alerts: z.array(z.unknown()).describe('one record per alert (a CEF line for cef)'),
  incidents: z.array(z.unknown()).describe('one record per incident (none for cef)'),
}).meta({ id: 'Export' });

export interface ExportRouteDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
}

/** `since` as epoch ms: an ISO 8601 time, or a duration back from `now`. */
export function parseSince(text: string, now: number): number {
  if (/^\d+(ms|s|m|h|d)$/.test(text)) return now - parseDuration(text);
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t)) {
    throw protocolError('ARCSIM_E_VALIDATION', `since: ${JSON.stringify(text)} is neither an ISO 8601 time nor a duration (24h, 7d)`, 'query.since');
  }
  return t;
}

/** `GET /api/export`: alerts and incidents in an export format, for `arcsim export` and scripts. */
export const exportRoutes: FastifyPluginAsyncZod<ExportRouteDeps> = async (app, deps) => {
  app.get('/api/export', {
    schema: {
      tags: ['alerts'], summary: 'Alerts and incidents as Graph, Sentinel, OCSF or CEF records', security: ROLE.reader,
      querystring: ExportQuery, response: { 200: ExportReply, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const now = deps.clock.now();
    const since = req.query.since === undefined ? undefined : parseSince(req.query.since, now);
    const records = await exportRecords(deps.store, req.query.format, { baseUrl: deps.baseUrl(), tenantId: LAB_TENANT_ID }, since);
    return { format: req.query.format, since: since === undefined ? null : new Date(since).toISOString(), generatedAt: new Date(now).toISOString(), ...records };
  });
};
