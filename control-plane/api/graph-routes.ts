import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AlertRow, AlertStatus, Store } from '../store/index.ts';
import type { SyncConfig } from '../products/sync-matrix.ts';
import { changeAlertStatus, changeIncidentStatus } from '../products/status-sync.ts';
import { changeIncidentTriage, CLASSIFICATIONS, DETERMINATIONS, MAX_ASSIGNED_TO } from '../products/incident-triage.ts';
import { LAB_TENANT_ID, loadExportAlert, loadExportIncident, toGraphAlert, toGraphIncident, type ExportContext } from '../exports/index.ts';
import { matches, parseFilter, parseOrderBy, sortBy, type EnumOrders } from './odata.ts';
import { ERROR_RESPONSES, ROLE } from './http.ts';

/** Paging of the Graph lists (arcsim's own numbers): a page without `$top`, and the largest `$top`. */
export const GRAPH_PAGING = { defaultPageSize: 100, maxTop: 1000 } as const;

/** Graph's documented filterable properties (alerts_v2 and incidents list references). */
const ALERT_FILTERABLE = ['assignedTo', 'classification', 'determination', 'createdDateTime', 'lastUpdateDateTime', 'severity', 'serviceSource', 'status'] as const;
const ALERT_ORDERABLE = [...ALERT_FILTERABLE, 'firstActivityDateTime', 'lastActivityDateTime', 'title', 'id'] as const;
const INCIDENT_FILTERABLE = ['assignedTo', 'classification', 'createdDateTime', 'determination', 'lastUpdateDateTime', 'severity', 'status'] as const;
const INCIDENT_ORDERABLE = [...INCIDENT_FILTERABLE, 'displayName', 'id'] as const;
/** `severity gt 'medium'` compares enum members by value, as Graph does. */
const ENUMS: EnumOrders = { severity: ['unknown', 'informational', 'low', 'medium', 'high'] };

/** Graph alertStatus -> the M365D copy's status (the Graph API is the XDR view). */
const FROM_GRAPH_STATUS: Record<'new' | 'inProgress' | 'resolved', AlertStatus> = { new: 'Active', inProgress: 'InProgress', resolved: 'Resolved' };
/** Graph incidentStatus -> the M365D incident's status (`redirected` is set by a merge, never by a PATCH). */
const FROM_GRAPH_INCIDENT_STATUS: Record<'active' | 'inProgress' | 'resolved', AlertStatus> = { active: 'Active', inProgress: 'InProgress', resolved: 'Resolved' };

const ListQuery = z.strictObject({
  $filter: z.string().max(4096).optional().describe('OData: eq, ne, gt, ge, lt, le, and, or, parentheses, on the documented filterable properties'),
  $orderby: z.string().max(1024).optional().describe('property [asc|desc], ...'),
  $top: z.coerce.number().int().min(1).max(GRAPH_PAGING.maxTop).optional().describe(`page size (default ${GRAPH_PAGING.defaultPageSize}, at most ${GRAPH_PAGING.maxTop})`),
  $skip: z.coerce.number().int().min(0).optional(),
});
const IncidentQuery = ListQuery.extend({ $expand: z.literal('alerts').optional().describe('alerts: include each incident\'s alerts') });
const IdParams = z.object({ id: z.string().min(1).max(200) });
const AlertPatch = z.strictObject({
  status: z.enum(['new', 'inProgress', 'resolved']).optional(),
  classification: z.enum(CLASSIFICATIONS).optional(),
  determination: z.enum(DETERMINATIONS).optional(),
  assignedTo: z.string().max(MAX_ASSIGNED_TO).nullable().optional(),
}).refine((b) => Object.keys(b).length > 0, { message: 'give at least one of status, classification, determination, assignedTo' });
const IncidentPatch = z.strictObject({
  status: z.enum(['active', 'inProgress', 'resolved']).optional(),
  classification: z.enum(CLASSIFICATIONS).optional(),
  determination: z.enum(DETERMINATIONS).optional(),
  assignedTo: z.string().max(MAX_ASSIGNED_TO).nullable().optional(),
}).refine((b) => Object.keys(b).length > 0, { message: 'give at least one of status, classification, determination, assignedTo' });

const GraphAlert = z.looseObject({}).meta({ id: 'GraphSecurityAlert', description: 'microsoft.graph.security.alert (alerts_v2)' });
const GraphIncident = z.looseObject({}).meta({ id: 'GraphSecurityIncident', description: 'microsoft.graph.security.incident' });
const page = (item: z.ZodType) => z.looseObject({ '@odata.context': z.string(), value: z.array(item), '@odata.nextLink': z.string().optional() });

export interface GraphRouteDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
  sync: SyncConfig;
}

/** Filter, order and page rendered records; `nextLink` repeats the query with the next `$skip`. */
function pageOf<T extends Record<string, unknown>>(records: T[], q: z.infer<typeof ListQuery>, filterable: readonly string[], orderable: readonly string[], link: (skip: number, top: number) => string) {
  let out = q.$filter ? records.filter((r) => matches(r, parseFilter(q.$filter!, filterable), ENUMS)) : records;
  if (q.$orderby) out = sortBy(out, parseOrderBy(q.$orderby, orderable), ENUMS);
  const skip = q.$skip ?? 0;
  const top = q.$top ?? GRAPH_PAGING.defaultPageSize;
  const value = out.slice(skip, skip + top);
  return { value, ...(skip + top < out.length ? { '@odata.nextLink': link(skip + top, top) } : {}) };
}

/**
 * Microsoft Graph security API v1.0, as Defender XDR serves it: `alerts_v2` (list, get, PATCH
 * status / classification / determination / assignedTo) and `incidents` (list, get, `$expand=alerts`, PATCH
 * the same four fields).
 * Authenticated with arcsim keys as bearer tokens. A status change goes through the sync matrix
 * as a change made in M365D (products/status-sync.ts), like `POST /api/alerts/ID/ACTION?product=M365D`.
 */
export const graphRoutes: FastifyPluginAsyncZod<GraphRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const tags = ['graph'];
  const ctx = (): ExportContext => ({ baseUrl: deps.baseUrl(), tenantId: LAB_TENANT_ID });
  const base = () => `${deps.baseUrl()}/v1.0`;

  /** The alert an id names in M365D: its M365D copy id (`da…` / `dc…`) or the detection's id. */
  const m365dAlert = async (id: string): Promise<AlertRow> => {
    const copy = (await store.alerts.findAlertCopies(id)).find((c) => c.product === 'M365D')
      ?? (await store.alerts.alertCopies(id)).find((c) => c.product === 'M365D');
    const row = copy && (await store.alerts.getAlert(copy.systemAlertId));
    if (!row) throw protocolError('ARCSIM_E_NOT_FOUND', `no alert ${id} in Microsoft 365 Defender`);
    return row;
  };
  const renderAlert = async (row: AlertRow) => toGraphAlert(await loadExportAlert(store, row), ctx());
  const linkWith = (path: string, q: Record<string, unknown>) => (skip: number, top: number) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...q, $skip: skip, $top: top })) if (v !== undefined) params.set(k, String(v));
    return `${base()}${path}?${params}`;
  };

  app.get('/v1.0/security/alerts_v2', {
    schema: { tags, summary: 'List alerts (Graph alerts_v2)', security: ROLE.reader, querystring: ListQuery, response: { 200: page(GraphAlert), ...ERROR_RESPONSES } },
  }, async (req) => {
    const rows = await store.alerts.listAlerts({ product: 'M365D' });
    const records: Array<Record<string, unknown>> = [];
    for (const r of rows) records.push(await renderAlert(r));
    return { '@odata.context': `${base()}/$metadata#security/alerts_v2`, ...pageOf(records, req.query, ALERT_FILTERABLE, ALERT_ORDERABLE, linkWith('/security/alerts_v2', req.query)) };
  });

  app.get('/v1.0/security/alerts_v2/:id', {
    schema: { tags, summary: 'Get an alert (Graph alerts_v2)', security: ROLE.reader, params: IdParams, response: { 200: GraphAlert, ...ERROR_RESPONSES } },
  }, async (req) => ({ '@odata.context': `${base()}/$metadata#security/alerts_v2/$entity`, ...(await renderAlert(await m365dAlert(req.params.id))) }));

  app.patch('/v1.0/security/alerts_v2/:id', {
    schema: {
      tags, summary: 'Update an alert: status (through the sync matrix, as a change in M365D), classification, determination, assignedTo',
      security: ROLE.responder, params: IdParams, body: AlertPatch, response: { 200: GraphAlert, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const row = await m365dAlert(req.params.id);
    const { status, ...triage } = req.body;
    const now = deps.clock.now();
    await store.transaction(async (tx) => {
      if (status) {
        await changeAlertStatus(tx, {
          id: row.systemAlertId, product: 'M365D', status: FROM_GRAPH_STATUS[status],
          reason: `Graph PATCH alerts_v2 by ${req.caller?.name ?? 'unknown'}`, config: deps.sync, now,
        });
      }
      if (Object.keys(triage).length) await tx.alerts.setAlertTriage(row.systemAlertId, triage, now);
    });
    return renderAlert((await store.alerts.getAlert(row.systemAlertId))!);
  });

  app.get('/v1.0/security/incidents', {
    schema: { tags, summary: 'List incidents (Graph); $expand=alerts includes their alerts', security: ROLE.reader, querystring: IncidentQuery, response: { 200: page(GraphIncident), ...ERROR_RESPONSES } },
  }, async (req) => {
    const { $expand, ...q } = req.query;
    const records: Array<Record<string, unknown>> = [];
    for (const r of await store.incidents.listIncidents()) records.push(toGraphIncident(await loadExportIncident(store, r), ctx(), { expandAlerts: $expand === 'alerts' }));
    return { '@odata.context': `${base()}/$metadata#security/incidents`, ...pageOf(records, q, INCIDENT_FILTERABLE, INCIDENT_ORDERABLE, linkWith('/security/incidents', req.query)) };
  });

  app.get('/v1.0/security/incidents/:id', {
    schema: { tags, summary: 'Get an incident (Graph)', security: ROLE.reader, params: IdParams, querystring: z.strictObject({ $expand: z.literal('alerts').optional() }), response: { 200: GraphIncident, ...ERROR_RESPONSES } },
  }, async (req) => {
    const row = await store.incidents.getIncident(req.params.id);
    if (!row) throw protocolError('ARCSIM_E_NOT_FOUND', `no incident ${req.params.id}`);
    return toGraphIncident(await loadExportIncident(store, row), ctx(), { expandAlerts: req.query.$expand === 'alerts' });
  });

  app.patch('/v1.0/security/incidents/:id', {
    schema: {
      tags, summary: 'Update an incident: status (its alerts follow, as resolving an M365D incident resolves them), classification, determination, assignedTo (its alerts are assigned too)',
      security: ROLE.responder, params: IdParams, body: IncidentPatch, response: { 200: GraphIncident, ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const { status, ...triage } = req.body;
    const now = deps.clock.now();
    const by = `Graph PATCH incidents by ${req.caller?.name ?? 'unknown'}`;
    await store.transaction(async (tx) => {
      if (Object.keys(triage).length) await changeIncidentTriage(tx, { incidentId: req.params.id, triage, reason: by, now });
      if (status) await changeIncidentStatus(tx, { incidentId: req.params.id, product: 'M365D', status: FROM_GRAPH_INCIDENT_STATUS[status], reason: by, config: deps.sync, now });
      else if (!(await tx.incidents.getIncident(req.params.id))) throw protocolError('ARCSIM_E_NOT_FOUND', `no incident ${req.params.id}`);
    });
    return toGraphIncident(await loadExportIncident(store, (await store.incidents.getIncident(req.params.id))!), ctx());
  });
};
