import { protocolError } from '../../protocol/index.ts';
import type { AlertCopyRow, AlertStatus, StoreTx, SyncAuditRow } from '../store/index.ts';
import { owningView, propagation, sentinelEnabled, syncEdges, type ProductView, type SyncConfig } from './sync-matrix.ts';

/** Status actions, as the MDC REST API names them (`POST .../alerts/{name}/{action}`). */
export const STATUS_ACTIONS: Record<string, AlertStatus> = {
  activate: 'Active',
  inProgress: 'InProgress',
  resolve: 'Resolved',
  dismiss: 'Dismissed',
};

export interface StatusChange {
  product: ProductView;
  copyId: string;
  from: AlertStatus;
  to: AlertStatus;
  via: ProductView | null;
}

/**
 * Sets an alert's status in one product view and propagates it along the sync matrix, writing
 * an audit row for the change itself and for every propagated one. `id` is the detection's
 * systemAlertId or a product copy's own id.
 */
export async function changeAlertStatus(
  tx: StoreTx, req: { id: string; product: ProductView; status: AlertStatus; reason: string; config: SyncConfig; now: number; followIncident?: boolean },
): Promise<{ systemAlertId: string; changes: StatusChange[]; incident?: IncidentFollow }> {
  const copies = await resolveCopies(tx, req.id, req.product);
  const own = copies.find((c) => c.product === req.product);
  if (!own) throw protocolError('ARCSIM_E_NOT_FOUND', `alert ${req.id} is not shown in ${req.product} (it is in: ${copies.map((c) => c.product).join(', ') || 'none'})`);
  const present = new Set(copies.map((c) => c.product as ProductView));
  const targets = [{ product: req.product, via: null as ProductView | null }, ...propagation(req.product, syncEdges(req.config), present)];
  const changes: StatusChange[] = [];
  const alert = (await tx.alerts.getAlert(own.systemAlertId))!;
  const owner = owningView(String(alert.properties.detectingProduct));
  for (const t of targets) {
    const copy = copies.find((c) => c.product === t.product)!;
    if (copy.status === req.status && t.via !== null) continue; // nothing to propagate there
    await tx.alerts.setCopyStatus(copy.systemAlertId, copy.product, req.status, req.now);
    if (copy.product === owner) await tx.alerts.setAlertStatus(copy.systemAlertId, req.status, req.now);
    await tx.settings.addSyncAudit(audit('alert', copy.systemAlertId, copy.product, copy.status, req.status, req.product, t.via, req.reason, req.now));
    changes.push({ product: t.product, copyId: copy.copyId, from: copy.status, to: req.status, via: t.via });
  }
  if (req.followIncident === false) return { systemAlertId: own.systemAlertId, changes };
  const incidentId = await tx.incidents.incidentOfAlert(own.systemAlertId);
  const incident = incidentId ? await incidentFollowsAlerts(tx, incidentId, req) : undefined;
  return { systemAlertId: own.systemAlertId, changes, ...(incident ? { incident } : {}) };
}

const CLOSED: ReadonlySet<AlertStatus> = new Set(['Resolved', 'Dismissed']);

/** An incident status set by its alerts (incidentFollowsAlerts). */
export interface IncidentFollow {
  incidentId: string;
  from: AlertStatus;
  to: AlertStatus;
}

/**
 * The M365D rule (Defender XDR, "Manage incidents"; REFERENCE.md): an incident is Active until it
 * is resolved, resolving it resolves its alerts, and it is resolved when none of its alerts is
 * open any more — every alert Resolved or Dismissed in M365D (an MDC "Dismissed" is resolved
 * there). When one of its alerts opens again, the incident is Active again. The alert's status
 * is its M365D copy's, or the detection's own where M365D does not show it (blog-2022 MDC
 * alerts). A merged-away (redirected) incident keeps its status. With Sentinel on, the XDR
 * connector carries the incident's status there too. Returns the change, if any.
 */
export async function incidentFollowsAlerts(
  tx: StoreTx, incidentId: string, o: { config: SyncConfig; now: number; reason?: string },
): Promise<IncidentFollow | undefined> {
  const inc = await tx.incidents.getIncident(incidentId);
  if (!inc || inc.redirectedTo) return undefined;
  const statuses: AlertStatus[] = [];
  for (const id of await tx.incidents.incidentAlertIds(incidentId)) {
    const copies = await tx.alerts.alertCopies(id);
    const m365 = copies.find((c) => c.product === 'M365D');
    statuses.push(m365 ? m365.status : (await tx.alerts.getAlert(id))!.status);
  }
  if (statuses.length === 0) return undefined;
  const allClosed = statuses.every((s) => CLOSED.has(s));
  const to: AlertStatus | undefined = allClosed && !CLOSED.has(inc.status) ? 'Resolved'
    : !allClosed && CLOSED.has(inc.status) ? 'Active' : undefined;
  if (!to) return undefined;
  const reason = o.reason ?? (to === 'Resolved' ? 'every alert of the incident is resolved or dismissed' : 'an alert of the incident is open again');
  await tx.incidents.setIncidentStatus(incidentId, 'status', to, o.now);
  await tx.settings.addSyncAudit(audit('incident', incidentId, 'M365D', inc.status, to, 'M365D', null, reason, o.now));
  if (o.config.sentinel.enabled) {
    await tx.incidents.setIncidentStatus(incidentId, 'sentinelStatus', to, o.now);
    await tx.settings.addSyncAudit(audit('incident', incidentId, 'Sentinel', inc.sentinelStatus ?? 'Active', to, 'M365D', 'M365D', reason, o.now));
  }
  return { incidentId, from: inc.status, to };
}

/**
 * Sets an incident's status in M365D or Sentinel. The XDR connector syncs incident status both
 * ways when Sentinel is enabled; resolving or dismissing an incident does the same to each of its
 * alerts' M365D copies, which then propagate by the matrix.
 */
export async function changeIncidentStatus(
  tx: StoreTx, req: { incidentId: string; product: 'M365D' | 'Sentinel'; status: AlertStatus; reason: string; config: SyncConfig; now: number },
): Promise<{ incident: string[]; alerts: StatusChange[] }> {
  const inc = await tx.incidents.getIncident(req.incidentId);
  if (!inc) throw protocolError('ARCSIM_E_NOT_FOUND', `no incident ${req.incidentId}`);
  if (inc.redirectedTo) throw protocolError('ARCSIM_E_NOT_FOUND', `incident ${req.incidentId} was merged into ${inc.redirectedTo}`);
  if (req.product === 'Sentinel' && !sentinelEnabled(req.config)) throw protocolError('ARCSIM_E_NOT_FOUND', 'Sentinel is not enabled');
  const touched: string[] = [];
  const set = async (product: 'M365D' | 'Sentinel', via: ProductView | null) => {
    const from = (product === 'M365D' ? inc.status : inc.sentinelStatus) ?? 'Active';
    await tx.incidents.setIncidentStatus(inc.incidentId, product === 'M365D' ? 'status' : 'sentinelStatus', req.status, req.now);
    await tx.settings.addSyncAudit(audit('incident', inc.incidentId, product, from, req.status, req.product, via, req.reason, req.now));
    touched.push(product);
  };
  await set(req.product, null);
  if (sentinelEnabled(req.config)) await set(req.product === 'M365D' ? 'Sentinel' : 'M365D', req.product);
  const alerts: StatusChange[] = [];
  if (req.status === 'Resolved' || req.status === 'Dismissed' || req.status === 'Active') {
    for (const id of await tx.incidents.incidentAlertIds(inc.incidentId)) {
      // The incident's own status was just set: its alerts follow it, not the other way round.
      const r = await changeAlertStatus(tx, { id, product: 'M365D', status: req.status, reason: `incident ${inc.incidentId} ${req.status}`, config: req.config, now: req.now, followIncident: false });
      alerts.push(...r.changes);
    }
  }
  return { incident: touched, alerts };
}

async function resolveCopies(tx: StoreTx, id: string, product: string): Promise<AlertCopyRow[]> {
  const direct = await tx.alerts.alertCopies(id);
  if (direct.length) return direct;
  const byCopy = (await tx.alerts.findAlertCopies(id)).find((c) => c.product === product) ?? (await tx.alerts.findAlertCopies(id))[0];
  return byCopy ? tx.alerts.alertCopies(byCopy.systemAlertId) : [];
}

function audit(
  subject: 'alert' | 'incident', subjectId: string, product: string, from: string, to: string, origin: string,
  via: string | null, reason: string, at: number,
): SyncAuditRow {
  return { at, subject, subjectId, product, fromStatus: from, toStatus: to, originProduct: origin, viaProduct: via, reason };
}

