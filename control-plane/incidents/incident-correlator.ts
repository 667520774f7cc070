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

/**
 * The incident refreshes one ingest transaction owes (issue 16, goal 5). Every occurrence folded
 * into an alert used to refresh the alert's incident at once, under the one incidents lock of the
 * database, held to the commit: two replicas' transactions then ran one after the other from
 * their first fold on. Here a fold only notes the incident (with the fold's `now`), and `flush`
 * refreshes each noted incident once, in id order, under that incident's own lock (see
 * IncidentsRepository.incidentAlertSpans): right before the commit, and before a new alert is
 * correlated (which may merge or join incidents: the ones noted are written first, as they were
 * when each fold refreshed at once). A refresh recomputes from the alerts as they stand, so the
 * rows are those the immediate refreshes gave: the last refresh of an incident decides, and it
 * now runs with the `now` of the last fold noted.
 */
export class IncidentRefreshes {
  private readonly pending = new Map<string, number>();
  /** Alert -> incident, read once per transaction; cleared when a correlation may have moved alerts. */
  private readonly incidentOf = new Map<string, string | undefined>();

  constructor(private readonly tx: StoreTx) {}

  /** An occurrence was folded into `alertId` at `now`: its incident (if any) is refreshed before the commit. */
  async folded(alertId: string, now: number): Promise<void> {
    let incident = this.incidentOf.get(alertId);
    if (!this.incidentOf.has(alertId)) {
      incident = await this.tx.incidents.incidentOfAlert(alertId);
      this.incidentOf.set(alertId, incident);
    }
    if (incident) this.pending.set(incident, now);
  }

  /** Refreshes every noted incident once, in id order (so two transactions take the incidents' locks in one order). */
  async flush(): Promise<void> {
    const ids = [...this.pending.keys()].sort();
    for (const id of ids) await refreshIncident(this.tx, id, this.pending.get(id)!);
    this.pending.clear();
  }

  /** Before a new alert is correlated: takes the incidents lock first (the correlation's order of locks), then writes what is noted. */
  async beforeCorrelation(): Promise<void> {
    if (this.pending.size) {
      await this.tx.incidents.incidentsSharing([], 0); // takes the incidents lock, reads nothing
      await this.flush();
    }
    this.incidentOf.clear();
  }
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
