import type { AlertRow, IncidentRow, Store } from '../store/index.ts';
import type { ExportAlert, ExportIncident } from './export-model.ts';

type Reader = Pick<Store, 'alerts' | 'incidents'>;

/** An alert with its incident, product copies and detonation ids, read from the store. */
export async function loadExportAlert(store: Reader, row: AlertRow): Promise<ExportAlert> {
  const events = await store.alerts.alertEvents(row.systemAlertId);
  const copies = await store.alerts.alertCopies(row.systemAlertId);
  const incidentId = await store.incidents.incidentOfAlert(row.systemAlertId);
  const detonationIds = [...new Set(events.map((e) => e.detonationId).filter((d): d is string => d !== null))];
  return { row, copies, detonationIds, ...(incidentId ? { incidentId } : {}) };
}

/** An incident with its alerts. */
export async function loadExportIncident(store: Reader, row: IncidentRow): Promise<ExportIncident> {
  const alerts: ExportAlert[] = [];
  for (const id of await store.incidents.incidentAlertIds(row.incidentId)) {
    const a = await store.alerts.getAlert(id);
    if (a) alerts.push(await loadExportAlert(store, a));
  }
  return { row, alerts };
}

/**
 * Every alert and incident changed at or after `since` (epoch ms; all when undefined), oldest
 * first, with each incident's running number (its place among all incidents by creation).
 */
export async function loadExport(store: Reader, since?: number): Promise<{ alerts: ExportAlert[]; incidents: Array<ExportIncident & { number: number }> }> {
  const alerts: ExportAlert[] = [];
  for (const row of await store.alerts.listAlerts()) {
    if (since === undefined || row.updatedAt >= since) alerts.push(await loadExportAlert(store, row));
  }
  const incidents: Array<ExportIncident & { number: number }> = [];
  const all = await store.incidents.listIncidents();
  for (const [n, row] of all.entries()) {
    if (since === undefined || row.updatedAt >= since) incidents.push({ ...(await loadExportIncident(store, row)), number: n + 1 });
  }
  return { alerts, incidents };
}
