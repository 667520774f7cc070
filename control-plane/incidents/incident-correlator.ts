import type { AlertRow, AlertSeverity, EntityKey, IncidentRow, StoreTx } from '../store/index.ts';

const SEVERITY_RANK: Record<AlertSeverity, number> = { Informational: 0, Low: 1, Medium: 2, High: 3 };

export function maxSeverity(values: AlertSeverity[]): AlertSeverity {
  return values.reduce((a, b) => (SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a), 'Informational' as AlertSeverity);
}

export interface CorrelationOptions {
  /** Alerts this close (alert time) to an incident's alerts, sharing an entity, join it. */
  windowMs: number;
  newId: () => string;
  now: number;
}

/**
 * The M365D incident view: a new alert joins the open incident that shares its asset, account or
 * remote IP within the window; when it links several incidents they merge into the oldest (the
 * others are closed and marked redirected, as Defender XDR and Sentinel do); otherwise it opens
 * a new incident. Severity is the highest of the incident's alerts.
 */
export async function correlateAlert(tx: StoreTx, alert: AlertRow, keys: EntityKey[], o: CorrelationOptions): Promise<string> {
  const related = await tx.incidents.incidentsSharing(keys, alert.startTime - o.windowMs);
  let incidentId: string;
  if (related.length === 0) {
    const row: IncidentRow = {
      incidentId: o.newId(), title: String(alert.properties.alertDisplayName), severity: alert.severity, status: 'Active',
      sentinelStatus: null, createdAt: o.now, updatedAt: o.now, firstActivity: alert.startTime, lastActivity: alert.endTime, redirectedTo: null,
    };
    await tx.incidents.insertIncident(row);
    incidentId = row.incidentId;
  } else {
    incidentId = related[0]!.incidentId;
    for (const other of related.slice(1)) await tx.incidents.mergeIncident(incidentId, other.incidentId, o.now);
  }
  await tx.incidents.addIncidentAlert(incidentId, alert.systemAlertId, o.now);
  await refreshIncident(tx, incidentId, o.now);
  return incidentId;
}

/** Recomputes an incident's severity and activity span from its alerts. */
export async function refreshIncident(tx: StoreTx, incidentId: string, now: number): Promise<void> {
  // Severity and times only, in one query: every occurrence folded into an alert refreshes its incident.
  const alerts = await tx.incidents.incidentAlertSpans(incidentId);
  if (alerts.length === 0) return;
  await tx.incidents.touchIncident(incidentId, {
    severity: maxSeverity(alerts.map((a) => a.severity)),
    firstActivity: Math.min(...alerts.map((a) => a.startTime)),
    lastActivity: Math.max(...alerts.map((a) => a.endTime)),
    updatedAt: now,
  });
}
