import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AlertCopyRow, AlertRow, IncidentRow, Store, SyncAuditRow } from '../store/index.ts';
import { toMdcAlert } from '../alerts/mdc-alert.ts';
import { PRODUCT_VIEWS, syncEdges, type ProductView, type SyncConfig } from '../products/sync-matrix.ts';
import { changeAlertStatus, changeIncidentStatus, STATUS_ACTIONS } from '../products/status-sync.ts';
import { parse } from './http.ts';

const Product = z.enum(PRODUCT_VIEWS);
const AlertQuery = z.strictObject({
  severity: z.enum(['Informational', 'Low', 'Medium', 'High']).optional(),
  status: z.enum(['Active', 'InProgress', 'Resolved', 'Dismissed']).optional(),
  alertType: z.string().optional(),
  detonationId: z.string().optional(),
  product: Product.optional(),
});
const ActionParams = z.strictObject({ id: z.string().min(1), action: z.enum(Object.keys(STATUS_ACTIONS) as [string, ...string[]]) });
const ActionQuery = z.strictObject({ product: Product });
const IncidentActionQuery = z.strictObject({ product: z.enum(['M365D', 'Sentinel']).default('M365D') });
const ActionBody = z.strictObject({ reason: z.string().max(1024).optional() }).optional();

export interface AlertRouteDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
  sync: SyncConfig;
  requireAdmin(req: FastifyRequest): Promise<void>;
}

/** An alert as the REST API shows it: MDC shape plus its copies, incident and detonation ids. */
export async function renderAlert(store: Store, baseUrl: string, row: AlertRow, view?: AlertCopyRow): Promise<Record<string, unknown>> {
  const [events, copies, incidentId, detectionSources, asset] = await Promise.all([
    store.alertEvents(row.systemAlertId), store.alertCopies(row.systemAlertId), store.incidentOfAlert(row.systemAlertId),
    store.alertSources(row.systemAlertId),
    store.assetOfSource('arc', row.resourceId).then((a) => a ?? store.assetOfSource('cspm', row.resourceId)),
  ]);
  const detonationIds = [...new Set(events.map((e) => e.detonationId).filter((d): d is string => d !== null))];
  // The alert is shown once on its asset, naming every source's resource id (Arc machine first).
  const resourceIds = asset ? [row.resourceId, ...asset.sources.map((s) => s.id).filter((id) => id !== row.resourceId)] : undefined;
  return toMdcAlert(row, baseUrl, { detonationIds, copies, incidentId, view, resourceIds, assetId: asset?.assetId, detectionSources });
}

/** Alerts (per product view), their status actions and audit trail, incidents, the sync matrix. */
export function registerAlertRoutes(app: FastifyInstance, deps: AlertRouteDeps): void {
  const { store } = deps;

  const render = (row: AlertRow, view?: AlertCopyRow) => renderAlert(store, deps.baseUrl(), row, view);

  /** An id is a detection's systemAlertId or a product copy's own id. */
  const lookup = async (id: string, product?: ProductView): Promise<{ row: AlertRow; view?: AlertCopyRow }> => {
    const row = await store.getAlert(id);
    if (row) {
      const view = product ? (await store.alertCopies(id)).find((c) => c.product === product) : undefined;
      if (product && !view) throw protocolError('ARCSIM_E_NOT_FOUND', `alert ${id} is not shown in ${product}`);
      return { row, view };
    }
    const copies = await store.findAlertCopies(id);
    const view = product ? copies.find((c) => c.product === product) : copies[0];
    const source = view && (await store.getAlert(view.systemAlertId));
    if (!view || !source) throw protocolError('ARCSIM_E_NOT_FOUND', `no alert ${id}${product ? ` in ${product}` : ''}`);
    return { row: source, view };
  };

  app.get('/api/alerts', async (req) => {
    const q = parse(AlertQuery, req.query, 'query');
    const rows = await store.listAlerts(q);
    const value = [];
    for (const r of rows) {
      const view = q.product ? (await store.alertCopies(r.systemAlertId)).find((c) => c.product === q.product) : undefined;
      if (q.status && view && view.status !== q.status) continue;
      value.push(await render(r, view));
    }
    return { value };
  });

  app.get('/api/alerts/:id', async (req) => {
    const { id } = req.params as { id: string };
    const { product } = parse(z.strictObject({ product: Product.optional() }), req.query, 'query');
    const { row, view } = await lookup(id, product);
    return render(row, view);
  });

  app.get('/api/alerts/:id/audit', async (req) => {
    const { id } = req.params as { id: string };
    const { row } = await lookup(id);
    return { value: (await store.listSyncAudit({ subject: 'alert', subjectId: row.systemAlertId })).map(auditJson) };
  });

  app.post('/api/alerts/:id/:action', { preHandler: deps.requireAdmin }, async (req) => {
    const { id, action } = parse(ActionParams, req.params, 'params');
    const { product } = parse(ActionQuery, req.query, 'query');
    const body = parse(ActionBody, req.body ?? undefined, 'body');
    const result = await store.transaction((tx) => changeAlertStatus(tx, {
      id, product, status: STATUS_ACTIONS[action]!, reason: body?.reason ?? `${action} in ${product}`, config: deps.sync, now: deps.clock.now(),
    }));
    const row = (await store.getAlert(result.systemAlertId))!;
    return { changes: result.changes, alert: await render(row) };
  });

  app.get('/api/incidents', async () => {
    const rows = await store.listIncidents();
    return { value: await Promise.all(rows.map((r) => incidentJson(r))) };
  });

  app.get('/api/incidents/:id', async (req) => {
    const { id } = req.params as { id: string };
    const row = await store.getIncident(id);
    if (!row) throw protocolError('ARCSIM_E_NOT_FOUND', `no incident ${id}`);
    return incidentJson(row);
  });

  app.post('/api/incidents/:id/:action', { preHandler: deps.requireAdmin }, async (req) => {
    const { id, action } = parse(ActionParams, req.params, 'params');
    const { product } = parse(IncidentActionQuery, req.query, 'query');
    const body = parse(ActionBody, req.body ?? undefined, 'body');
    const result = await store.transaction((tx) => changeIncidentStatus(tx, {
      incidentId: id, product, status: STATUS_ACTIONS[action]!, reason: body?.reason ?? `${action} in ${product}`, config: deps.sync, now: deps.clock.now(),
    }));
    return { ...result, incident: await incidentJson((await store.getIncident(id))!) };
  });

  app.get('/api/sync', async () => ({ config: deps.sync, edges: syncEdges(deps.sync) }));

  async function incidentJson(r: IncidentRow): Promise<Record<string, unknown>> {
    const ids = await store.incidentAlertIds(r.incidentId);
    const iso = (ms: number) => new Date(ms).toISOString();
    const alerts = (await Promise.all(ids.map((id) => store.getAlert(id)))).filter((a): a is AlertRow => !!a);
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
      tags: r.redirectedTo ? ['Redirected'] : [],
      incidentUri: `${deps.baseUrl()}/portal/incidents/${r.incidentId}`,
      alerts: alerts.map((a) => ({
        systemAlertId: a.systemAlertId, alertType: a.alertType, title: a.properties.alertDisplayName, severity: a.severity,
        status: a.status, resourceId: a.resourceId, count: a.count,
      })),
    };
  }
}

function auditJson(a: SyncAuditRow): Record<string, unknown> {
  const { at, ...rest } = a;
  return { time: new Date(at).toISOString(), ...rest };
}
