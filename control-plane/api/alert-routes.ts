import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AlertCopyRow, AlertRow, IncidentRow, Store, SyncAuditRow } from '../store/index.ts';
import { toMdcAlert } from '../alerts/mdc-alert.ts';
import { PRODUCT_VIEWS, syncEdges, type ProductView, type SyncConfig } from '../products/sync-matrix.ts';
import { changeAlertStatus, changeIncidentStatus, STATUS_ACTIONS } from '../products/status-sync.ts';
import { SyncProfileSetSchema, type SyncProfiles } from '../products/sync-profile.ts';
import { ROLE, ERROR_RESPONSES, listOf } from './http.ts';

const Product = z.enum(PRODUCT_VIEWS);
const AlertQuery = z.strictObject({
  severity: z.enum(['Informational', 'Low', 'Medium', 'High']).optional(),
  status: z.enum(['Active', 'InProgress', 'Resolved', 'Dismissed']).optional(),
  alertType: z.string().optional(),
  detonationId: z.string().optional(),
  product: Product.optional(),
});
const AlertView = z.strictObject({ product: Product.optional() });
const IdParams = z.object({ id: z.string().min(1) });
const ActionParams = IdParams.extend({ action: z.enum(Object.keys(STATUS_ACTIONS) as [keyof typeof STATUS_ACTIONS, ...Array<keyof typeof STATUS_ACTIONS>]) });
const ActionQuery = z.strictObject({ product: Product });
const IncidentActionQuery = z.strictObject({ product: z.enum(['M365D', 'Sentinel']).default('M365D') });
// A POST without a body reaches the validator as null.
const ActionBody = z.strictObject({ reason: z.string().max(1024).optional() }).nullish();

// Shaped by alerts/mdc-alert.ts, which builds it as an open record.
const Alert = z.looseObject({}).meta({
  id: 'Alert', description: 'An MDC alert (`Microsoft.Security/locations/alerts`: id, name, type, properties) with its product copies, incident and detonation ids',
});
const AuditEntry = z.looseObject({ time: z.string() });
const IncidentAlert = z.object({
  systemAlertId: z.string(), alertType: z.string(), title: z.unknown().describe('the alertDisplayName'), severity: z.string(), status: z.string(), resourceId: z.string(), count: z.number().int(),
});
const Incident = z.looseObject({
  incidentId: z.string(), incidentName: z.string(), severity: z.string(), status: z.string(), sentinelStatus: z.string().optional(),
  createdTime: z.string(), lastUpdateTime: z.string(), firstActivity: z.string(), lastActivity: z.string(),
  redirectIncidentId: z.string().optional(), classification: z.string(), determination: z.string(), assignedTo: z.string().nullable(),
  tags: z.array(z.string()), incidentUri: z.string(), alerts: z.array(IncidentAlert),
}).meta({ id: 'Incident', description: 'An M365D incident' });
const StatusChanges = z.array(z.object({
  product: Product, copyId: z.string(), from: z.string(), to: z.string(), via: Product.nullable().describe('the product it was synced from; null where it was changed'),
})).describe('every copy whose status changed, by the sync matrix');

export interface AlertRouteDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
  sync: SyncConfig;
  syncProfiles: SyncProfiles;
}

/** An alert as the REST API shows it: MDC shape plus its copies, incident and detonation ids. */
export async function renderAlert(store: Store, baseUrl: string, row: AlertRow, view?: AlertCopyRow): Promise<Record<string, unknown>> {
  const [events, copies, incidentId, detectionSources, asset] = await Promise.all([
    store.alerts.alertEvents(row.systemAlertId), store.alerts.alertCopies(row.systemAlertId), store.incidents.incidentOfAlert(row.systemAlertId),
    store.alerts.alertSources(row.systemAlertId),
    store.inventory.assetOfSource('arc', row.resourceId).then((a) => a ?? store.inventory.assetOfSource('cspm', row.resourceId)),
  ]);
  const detonationIds = [...new Set(events.map((e) => e.detonationId).filter((d): d is string => d !== null))];
  // The alert is shown once on its asset, naming every source's resource id (Arc machine first).
  const resourceIds = asset ? [row.resourceId, ...asset.sources.map((s) => s.id).filter((id) => id !== row.resourceId)] : undefined;
  return toMdcAlert(row, baseUrl, { detonationIds, copies, incidentId, view, resourceIds, assetId: asset?.assetId, detectionSources });
}

/** Alerts (per product view), their status actions and audit trail, incidents, the sync matrix. */
export const alertRoutes: FastifyPluginAsyncZod<AlertRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const tags = ['alerts'];

  const render = (row: AlertRow, view?: AlertCopyRow) => renderAlert(store, deps.baseUrl(), row, view);

  /** An id is a detection's systemAlertId or a product copy's own id. */
  const lookup = async (id: string, product?: ProductView): Promise<{ row: AlertRow; view?: AlertCopyRow }> => {
    const row = await store.alerts.getAlert(id);
    if (row) {
      const view = product ? (await store.alerts.alertCopies(id)).find((c) => c.product === product) : undefined;
      if (product && !view) throw protocolError('ARCSIM_E_NOT_FOUND', `alert ${id} is not shown in ${product}`);
      return { row, view };
    }
    const copies = await store.alerts.findAlertCopies(id);
    const view = product ? copies.find((c) => c.product === product) : copies[0];
    const source = view && (await store.alerts.getAlert(view.systemAlertId));
    if (!view || !source) throw protocolError('ARCSIM_E_NOT_FOUND', `no alert ${id}${product ? ` in ${product}` : ''}`);
    return { row: source, view };
  };

  app.get('/api/alerts', { schema: { tags, summary: 'Alerts, as one product shows them', security: ROLE.reader, querystring: AlertQuery, response: { 200: listOf(Alert), ...ERROR_RESPONSES } } }, async (req) => {
    const q = req.query;
    const rows = await store.alerts.listAlerts(q);
    const value = [];
    for (const r of rows) {
      const view = q.product ? (await store.alerts.alertCopies(r.systemAlertId)).find((c) => c.product === q.product) : undefined;
      if (q.status && view && view.status !== q.status) continue;
      value.push(await render(r, view));
    }
    return { value };
  });

  app.get('/api/alerts/:id', {
    schema: { tags, summary: "An alert by its systemAlertId or a product copy's id", security: ROLE.reader, params: IdParams, querystring: AlertView, response: { 200: Alert, ...ERROR_RESPONSES } },
  }, async (req) => {
    const { row, view } = await lookup(req.params.id, req.query.product);
    return render(row, view);
  });

  app.get('/api/alerts/:id/audit', {
    schema: { tags, summary: "An alert's status changes across products", security: ROLE.reader, params: IdParams, response: { 200: listOf(AuditEntry), ...ERROR_RESPONSES } },
  }, async (req) => {
    const { row } = await lookup(req.params.id);
    return { value: (await store.settings.listSyncAudit({ subject: 'alert', subjectId: row.systemAlertId })).map(auditJson) };
  });

  app.post('/api/alerts/:id/:action', {
    schema: {
      tags, summary: 'Change an alert status in one product; the sync matrix carries it on', security: ROLE.responder,
      params: ActionParams, querystring: ActionQuery, body: ActionBody,
      response: { 200: z.looseObject({ changes: StatusChanges, alert: Alert }), ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const { id, action } = req.params;
    const { product } = req.query;
    const body = req.body;
    const result = await store.transaction((tx) => changeAlertStatus(tx, {
      id, product, status: STATUS_ACTIONS[action]!, reason: body?.reason ?? `${action} in ${product}`, config: deps.sync, now: deps.clock.now(),
    }));
    const row = (await store.alerts.getAlert(result.systemAlertId))!;
    // `incident`: the incident's status when this change opened or closed it (it follows its alerts).
    return { changes: result.changes, alert: await render(row), ...(result.incident ? { incident: result.incident } : {}) };
  });

  app.get('/api/incidents', { schema: { tags, summary: 'M365D incidents', security: ROLE.reader, response: { 200: listOf(Incident), ...ERROR_RESPONSES } } }, async () => {
    const rows = await store.incidents.listIncidents();
    return { value: await Promise.all(rows.map((r) => incidentJson(r))) };
  });

  app.get('/api/incidents/:id', { schema: { tags, summary: 'One incident', security: ROLE.reader, params: IdParams, response: { 200: Incident, ...ERROR_RESPONSES } } }, async (req) => {
    const { id } = req.params;
    const row = await store.incidents.getIncident(id);
    if (!row) throw protocolError('ARCSIM_E_NOT_FOUND', `no incident ${id}`);
    return incidentJson(row);
  });

  app.post('/api/incidents/:id/:action', {
    schema: {
      tags, summary: 'Change an incident status in M365D or Sentinel, and its alerts by the sync matrix', security: ROLE.responder,
      params: ActionParams, querystring: IncidentActionQuery, body: ActionBody,
      response: { 200: z.looseObject({ alerts: StatusChanges, incident: Incident }), ...ERROR_RESPONSES },
    },
  }, async (req) => {
    const { id, action } = req.params;
    const { product } = req.query;
    const body = req.body;
    const result = await store.transaction((tx) => changeIncidentStatus(tx, {
      incidentId: id, product, status: STATUS_ACTIONS[action]!, reason: body?.reason ?? `${action} in ${product}`, config: deps.sync, now: deps.clock.now(),
    }));
    return { ...result, incident: await incidentJson((await store.incidents.getIncident(id))!) };
  });

  app.get('/api/sync', {
    schema: { tags, summary: 'The sync matrix: which status change flows where', security: ROLE.reader, response: { 200: z.looseObject({ config: z.looseObject({}), edges: z.array(z.looseObject({})) }), ...ERROR_RESPONSES } },
  }, async () => ({ config: deps.sync, edges: syncEdges(deps.sync), profile: deps.syncProfiles.view().profile }));

  const SyncProfileView = z.object({
    profile: z.string(), mdeStatusToMdc: z.boolean(), sentinel: z.boolean(), source: z.enum(['config', 'api']),
    setAt: z.string().optional(), setBy: z.string().optional(), description: z.string(),
    edges: z.array(z.object({ from: z.string(), to: z.string() })), profiles: z.array(z.object({ name: z.string(), description: z.string() })),
  }).meta({ id: 'SyncProfile', description: 'The active sync profile (mdc-classic, sentinel-hub, xdr-unified), where it came from, and its edges' });

  app.get('/api/sync/profile', {
    schema: { tags, summary: 'The active sync profile', security: ROLE.reader, response: { 200: SyncProfileView, ...ERROR_RESPONSES } },
  }, async () => deps.syncProfiles.view());

  app.put('/api/sync/profile', {
    schema: {
      tags, summary: 'Choose the sync profile (applies to alerts raised from now on and to every status change)', security: ROLE.contributor,
      body: SyncProfileSetSchema, response: { 200: SyncProfileView, ...ERROR_RESPONSES },
    },
  }, async (req) => deps.syncProfiles.set(req.body, req.caller?.name ?? 'unknown', deps.clock.now()));

  async function incidentJson(r: IncidentRow) {
    const ids = await store.incidents.incidentAlertIds(r.incidentId);
    const iso = (ms: number) => new Date(ms).toISOString();
    const alerts = (await Promise.all(ids.map((id) => store.alerts.getAlert(id)))).filter((a): a is AlertRow => !!a);
    return {
      incidentId: r.incidentId,
      incidentName: r.title,
      severity: r.severity,
      status: r.status,
      sentinelStatus: r.sentinelStatus ?? undefined,
      createdTime: iso(r.createdAt),
      lastUpdateTime: iso(r.updatedAt),
      firstActivity: iso(r.firstActivity),
      lastActivity: iso(r.lastActivity),
      redirectIncidentId: r.redirectedTo ?? undefined,
      classification: r.classification ?? 'unknown',
      determination: r.determination ?? 'unknown',
      assignedTo: r.assignedTo ?? null,
      tags: r.redirectedTo ? ['Redirected'] : [],
      incidentUri: `${deps.baseUrl()}/portal/incidents/${r.incidentId}`,
      alerts: alerts.map((a) => ({
        systemAlertId: a.systemAlertId, alertType: a.alertType, title: a.properties.alertDisplayName, severity: a.severity,
        status: a.status, resourceId: a.resourceId, count: a.count,
      })),
    };
  }
};

function auditJson(a: SyncAuditRow) {
  const { at, ...rest } = a;
  return { time: new Date(at).toISOString(), ...rest };
}
