import { sql, Where } from '../sql.ts';
import { toIncident, type IncidentCols } from '../row-decoding.ts';
import type { AlertSeverity, AlertStatus, EntityKey, IncidentPage, IncidentTriage, IncidentPageQuery, IncidentRow, IncidentsRepository } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  sharing: sql((d) => `SELECT DISTINCT i.* FROM incidents i
            JOIN incident_alerts ia ON ia.incident_id = i.incident_id
            JOIN alert_entities e ON e.system_alert_id = ia.system_alert_id
            JOIN ${d.jsonRows('k', { kind: 'text', value: 'text' })} ON e.kind = k.kind AND e.value = k.value
            WHERE e.time >= ? AND i.redirected_to IS NULL AND i.status NOT IN ('Resolved', 'Dismissed')
            ORDER BY i.created_at, i.incident_id`),
  insert: sql(`INSERT INTO incidents (incident_id, title, severity, status, sentinel_status, created_at, updated_at, first_activity, last_activity, redirected_to,
                 classification, determination, assigned_to)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  addAlert: sql(`INSERT INTO incident_alerts (incident_id, system_alert_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
  moveAlerts: sql(`UPDATE incident_alerts SET incident_id = ? WHERE incident_id = ?`),
  redirect: sql(`UPDATE incidents SET status = 'Resolved', sentinel_status = CASE WHEN sentinel_status IS NULL THEN NULL ELSE 'Resolved' END,
                   redirected_to = ?, updated_at = ? WHERE incident_id = ?`),
  touch: sql(`UPDATE incidents SET severity = ?, last_activity = ?, first_activity = ?, updated_at = ? WHERE incident_id = ?`),
  setStatus: {
    status: sql(`UPDATE incidents SET status = ?, updated_at = ? WHERE incident_id = ?`),
    sentinelStatus: sql(`UPDATE incidents SET sentinel_status = ?, updated_at = ? WHERE incident_id = ?`),
  },
  // Each triage field is set only when given (a flag per field), so one statement serves any subset.
  triage: sql(`UPDATE incidents SET
                 classification = CASE WHEN ? = 1 THEN ? ELSE classification END,
                 determination = CASE WHEN ? = 1 THEN ? ELSE determination END,
                 assigned_to = CASE WHEN ? = 1 THEN ? ELSE assigned_to END,
                 updated_at = ? WHERE incident_id = ?`),
  get: sql(`SELECT * FROM incidents WHERE incident_id = ?`),
  ofAlert: sql(`SELECT incident_id FROM incident_alerts WHERE system_alert_id = ?`),
  alertIds: sql(`SELECT system_alert_id FROM incident_alerts WHERE incident_id = ? ORDER BY added_at, system_alert_id`),
  alertSpans: sql(`SELECT a.severity, a.start_time, a.end_time FROM incident_alerts ia JOIN alerts a ON a.system_alert_id = ia.system_alert_id
                   WHERE ia.incident_id = ? ORDER BY ia.added_at, ia.system_alert_id`),
  list: sql(`SELECT * FROM incidents ORDER BY created_at, incident_id`),
  recent: sql(`SELECT * FROM incidents WHERE redirected_to IS NULL ORDER BY last_activity DESC, incident_id DESC LIMIT ?`),
};

/** Incident correlation and refresh read several rows, decide, then write (see incidentsSharing). */
const INCIDENTS_LOCK = 'arcsim:incidents';

export class IncidentsRepo extends RepositoryBase implements IncidentsRepository {
  async incidentsSharing(keys: EntityKey[], since: number): Promise<IncidentRow[]> {
    // Correlation reads the open incidents, then creates, merges or joins one. Two replicas doing
    // that at once for related alerts would each open an incident; one lock per database makes
    // them take turns (only transactions that create an alert get here, so contention is low).
    await this.ex.lock(INCIDENTS_LOCK);
    if (keys.length === 0) return [];
    return (await this.ex.all<IncidentCols>(Q.sharing, [JSON.stringify(keys), since])).map(toIncident);
  }

  async insertIncident(r: IncidentRow): Promise<void> {
    await this.ex.run(Q.insert, [
      r.incidentId, r.title, r.severity, r.status, r.sentinelStatus, r.createdAt, r.updatedAt, r.firstActivity, r.lastActivity, r.redirectedTo,
      r.classification ?? 'unknown', r.determination ?? 'unknown', r.assignedTo ?? null,
    ]);
  }

  async addIncidentAlert(incidentId: string, alertId: string, at: number): Promise<void> {
    await this.ex.run(Q.addAlert, [incidentId, alertId, at]);
  }

  async mergeIncident(into: string, from: string, at: number): Promise<void> {
    await this.ex.atomic(async (ex) => {
      await ex.run(Q.moveAlerts, [into, from]);
      await ex.run(Q.redirect, [into, at, from]);
    });
  }

  async touchIncident(id: string, p: { severity: AlertSeverity; lastActivity: number; firstActivity: number; updatedAt: number }): Promise<void> {
    await this.ex.run(Q.touch, [p.severity, p.lastActivity, p.firstActivity, p.updatedAt, id]);
  }

  async setIncidentStatus(id: string, field: 'status' | 'sentinelStatus', status: AlertStatus, at: number): Promise<void> {
    await this.ex.run(Q.setStatus[field], [status, at, id]);
  }

  async setIncidentTriage(id: string, t: IncidentTriage, at: number): Promise<boolean> {
    const has = (k: keyof IncidentTriage) => (k in t && t[k] !== undefined ? 1 : 0);
    return (await this.ex.run(Q.triage, [
      has('classification'), t.classification ?? null, has('determination'), t.determination ?? null, has('assignedTo'), t.assignedTo ?? null, at, id,
    ])) > 0;
  }

  async getIncident(id: string): Promise<IncidentRow | undefined> {
    const r = await this.ex.get<IncidentCols>(Q.get, [id]);
    return r && toIncident(r);
  }

  async incidentOfAlert(alertId: string): Promise<string | undefined> {
    return (await this.ex.get<{ incident_id: string }>(Q.ofAlert, [alertId]))?.incident_id;
  }

  async incidentAlertIds(id: string): Promise<string[]> {
    // Inside a transaction this starts a read-compute-write (refreshIncident, status changes):
    // take the incidents lock so the write is computed from every committed alert.
    await this.ex.lock(INCIDENTS_LOCK);
    return (await this.ex.all<{ system_alert_id: string }>(Q.alertIds, [id])).map((r) => r.system_alert_id);
  }

  async incidentAlertSpans(id: string): Promise<Array<{ severity: AlertSeverity; startTime: number; endTime: number }>> {
    // refreshIncident's read-compute-write, under this incident's own lock: a concurrent refresh of
    // it waits for this commit, then reads every alert committed by then. Not the incidents lock:
    // every fold refreshes its incident, and replicas would queue on that one lock (issue 16, goal 5).
    await this.ex.lock(`${INCIDENTS_LOCK}:${id}`);
    const rows = await this.ex.all<{ severity: AlertSeverity; start_time: number | string; end_time: number | string }>(Q.alertSpans, [id]);
    return rows.map((r) => ({ severity: r.severity, startTime: Number(r.start_time), endTime: Number(r.end_time) }));
  }

  async pageIncidents(q: IncidentPageQuery): Promise<IncidentPage> {
    const inList = (col: string) => (this.ex.dialect === 'sqlite' ? `${col} IN (SELECT value FROM json_each(?))` : `${col} IN (SELECT json_array_elements_text(?::json))`);
    const w = new Where().whenList(q.status, inList('i.status')).whenList(q.severity, inList('i.severity'));
    if (!q.redirected) w.raw('i.redirected_to IS NULL');
    w.whenList(q.classification, inList('i.classification'));
    if (q.assignedTo === null) w.raw('i.assigned_to IS NULL');
    else if (q.assignedTo !== undefined) w.when(q.assignedTo, 'i.assigned_to = ?');
    const dir = q.dir === 'asc' ? 'ASC' : 'DESC';
    const key = {
      created: 'i.created_at',
      lastActivity: 'i.last_activity',
      severity: `CASE i.severity WHEN 'High' THEN 3 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 1 ELSE 0 END`,
    }[q.sort ?? 'created'];
    const [rows, total] = await Promise.all([
      this.ex.all<IncidentCols & { alert_count: number | string }>(sql(`SELECT i.*,
          (SELECT COUNT(*) FROM incident_alerts ia WHERE ia.incident_id = i.incident_id) AS alert_count
        FROM incidents i ${w} ORDER BY ${key} ${dir}, i.incident_id ${dir} LIMIT ? OFFSET ?`), [...w.args, q.limit, q.offset]),
      this.ex.get<{ n: number | string }>(sql(`SELECT COUNT(*) AS n FROM incidents i ${w}`), w.args),
    ]);
    return { rows: rows.map((r) => ({ ...toIncident(r), alertCount: Number(r.alert_count) })), total: Number(total?.n ?? 0) };
  }

  async listIncidents(): Promise<IncidentRow[]> {
    return (await this.ex.all<IncidentCols>(Q.list)).map(toIncident);
  }

  async recentIncidents(limit: number): Promise<IncidentRow[]> {
    return (await this.ex.all<IncidentCols>(Q.recent, [limit])).map(toIncident);
  }
}
