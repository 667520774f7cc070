import { sql, sqlPer, Where } from '../sql.ts';
import {
  toAlert, toAlertEvent, toAlertSource, toCopy, type AlertCols, type AlertEventCols, type AlertSourceCols, type CopyCols,
} from '../row-decoding.ts';
import type {
  AlertCopyRow, AlertFilter, AlertPage, AlertPageQuery, AlertRow, AlertSeverity, AlertSourceRow, AlertStatus, AlertsRepository, EntityKey,
} from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  // SET expressions see the old row: join the open alert when within the window, else replace it.
  claimDedup: sql((d) => `INSERT INTO alert_dedup (dedup_key, system_alert_id, last_time) VALUES (?, ?, ?)
                 ON CONFLICT (dedup_key) DO UPDATE SET
                   system_alert_id = CASE WHEN ABS(excluded.last_time - alert_dedup.last_time) <= ${d.float('?')}
                                          THEN alert_dedup.system_alert_id ELSE excluded.system_alert_id END,
                   last_time = CASE WHEN ABS(excluded.last_time - alert_dedup.last_time) <= ${d.float('?')}
                                    THEN ${d.greatest('alert_dedup.last_time', 'excluded.last_time')} ELSE excluded.last_time END
                 RETURNING system_alert_id, last_time`),
  insertAlert: sql(`INSERT INTO alerts (system_alert_id, dedup_key, alert_type, rule_id, agent_id, resource_id, severity, status, count,
                      start_time, end_time, time_generated, updated_at, latency_ms, properties)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`),
  addOccurrence: sql((d) => `UPDATE alerts SET count = count + 1, start_time = ${d.least('start_time', '?')},
                    end_time = ${d.greatest('end_time', '?')}, updated_at = ? WHERE system_alert_id = ? RETURNING *`),
  // Several occurrences folded in memory (foldOccurrences): the same widening as addOccurrence.
  addOccurrences: sql((d) => `UPDATE alerts SET count = count + ?, start_time = ${d.least('start_time', '?')},
                    end_time = ${d.greatest('end_time', '?')}, updated_at = ? WHERE system_alert_id = ?`),
  setDedupLast: sql(`UPDATE alert_dedup SET last_time = ? WHERE dedup_key = ? AND system_alert_id = ?`),
  getAlert: sql(`SELECT * FROM alerts WHERE system_alert_id = ?`),
  setAlertStatus: sql(`UPDATE alerts SET status = ?, updated_at = ? WHERE system_alert_id = ?`),
  statusOf: sql((d) => `SELECT status FROM alerts WHERE system_alert_id = ? ${d.forUpdate}`),
  // Triage fields (classification, determination, assignedTo) merged into the properties JSON.
  setTriage: sqlPer({
    sqlite: `UPDATE alerts SET properties = json_patch(properties, ?), updated_at = ? WHERE system_alert_id = ?`,
    postgres: `UPDATE alerts SET properties = (properties::jsonb || ?::jsonb)::json, updated_at = ? WHERE system_alert_id = ?`,
  }),
  sharing: sql((d) => `SELECT DISTINCT a.* FROM alerts a
            JOIN alert_entities e ON e.system_alert_id = a.system_alert_id
            JOIN ${d.jsonRows('k', { kind: 'text', value: 'text' })} ON e.kind = k.kind AND e.value = k.value
            WHERE e.time >= ? ORDER BY a.system_alert_id`),
  // The sinks' outbox (repositories/sinks.ts): one row per new alert and per status change.
  outbox: sql(`INSERT INTO alert_outbox (system_alert_id, change, status, at) VALUES (?, ?, ?, ?)`),
  // PostgreSQL: one round trip for all of an alert's new links. SQLite: one prepared insert per
  // link (no round trips to save there, and SQLite's JSON rows cost about 3x the plain insert).
  linkEvents: sql((d) => `INSERT INTO alert_events (system_alert_id, report_id, detonation_id)
                 SELECT ?, report_id, detonation_id FROM ${d.jsonRows('x', { report_id: 'text', detonation_id: 'text' })}
                 WHERE true ON CONFLICT DO NOTHING`),
  linkEvent: sql(`INSERT INTO alert_events (system_alert_id, report_id, detonation_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
  alertEvents: sql(`SELECT report_id, detonation_id FROM alert_events WHERE system_alert_id = ? ORDER BY report_id`),
  insertCopies: sql((d) => `INSERT INTO alert_copies (system_alert_id, product, copy_id, status, updated_at)
                   SELECT system_alert_id, product, copy_id, status, updated_at
                   FROM ${d.jsonRows('x', { system_alert_id: 'text', product: 'text', copy_id: 'text', status: 'text', updated_at: 'bigint' })}
                   WHERE true ON CONFLICT DO NOTHING`),
  copies: sql(`SELECT * FROM alert_copies WHERE system_alert_id = ? ORDER BY product`),
  copiesById: sql(`SELECT * FROM alert_copies WHERE copy_id = ? ORDER BY product`),
  setCopyStatus: sql(`UPDATE alert_copies SET status = ?, updated_at = ? WHERE system_alert_id = ? AND product = ?`),
  addSource: sql((d) => `INSERT INTO alert_sources (system_alert_id, kind, resource_id, detail, first_time, last_time, count)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (system_alert_id, kind, resource_id) DO UPDATE SET count = alert_sources.count + excluded.count,
                  first_time = ${d.least('alert_sources.first_time', 'excluded.first_time')},
                  last_time = ${d.greatest('alert_sources.last_time', 'excluded.last_time')}`),
  sources: sql(`SELECT * FROM alert_sources WHERE system_alert_id = ? ORDER BY kind, resource_id`),
  addEntities: sql((d) => `INSERT INTO alert_entities (system_alert_id, kind, value, time)
                  SELECT ?, kind, value, ? FROM ${d.jsonRows('x', { kind: 'text', value: 'text' })}
                  WHERE true ON CONFLICT DO NOTHING`),
};

export class AlertsRepo extends RepositoryBase implements AlertsRepository {
  upsertAlert(a: AlertRow, windowMs: number): Promise<{ alert: AlertRow; created: boolean; lastTime: number }> {
    // Two statements, not one: on PostgreSQL, after the claim waited for a concurrent replica's
    // claim to commit, the alert row that replica inserted is visible only to a *later* statement.
    return this.ex.atomic(async (ex) => {
      const claim = await ex.get<{ system_alert_id: string; last_time: number | string }>(Q.claimDedup, [a.dedupKey, a.systemAlertId, a.endTime, windowMs, windowMs]);
      const owner = claim!.system_alert_id;
      const lastTime = Number(claim!.last_time);
      if (owner === a.systemAlertId) {
        const row = await ex.get<AlertCols>(Q.insertAlert, [
          a.systemAlertId, a.dedupKey, a.alertType, a.ruleId, a.agentId, a.resourceId, a.severity, a.status, a.count,
          a.startTime, a.endTime, a.timeGenerated, a.updatedAt, a.latencyMs, JSON.stringify(a.properties),
        ]);
        await ex.run(Q.outbox, [a.systemAlertId, 'created', a.status, a.updatedAt]);
        return { alert: toAlert(row!), created: true, lastTime };
      }
      const row = await ex.get<AlertCols>(Q.addOccurrence, [a.startTime, a.endTime, a.updatedAt, owner]);
      if (!row) throw new Error(`alert_dedup names alert ${owner} for ${a.dedupKey}, but no such alert exists`);
      return { alert: toAlert(row), created: false, lastTime };
    });
  }

  async foldOccurrences(f: { systemAlertId: string; dedupKey: string; count: number; startTime: number; endTime: number; updatedAt: number; lastTime: number }): Promise<void> {
    if (f.count === 0) return;
    await this.ex.atomic(async (ex) => {
      await ex.run(Q.addOccurrences, [f.count, f.startTime, f.endTime, f.updatedAt, f.systemAlertId]);
      await ex.run(Q.setDedupLast, [f.lastTime, f.dedupKey, f.systemAlertId]);
    });
  }

  async getAlert(id: string): Promise<AlertRow | undefined> {
    const r = await this.ex.get<AlertCols>(Q.getAlert, [id]);
    return r && toAlert(r);
  }

  async listAlerts(f: AlertFilter = {}): Promise<AlertRow[]> {
    const w = new Where()
      .when(f.severity, 'severity = ?')
      .when(f.status, 'status = ?')
      .when(f.alertType, 'alert_type = ?')
      .when(f.resourceId, 'resource_id = ?')
      .when(f.product, 'system_alert_id IN (SELECT system_alert_id FROM alert_copies WHERE product = ?)')
      .when(f.detonationId, 'system_alert_id IN (SELECT system_alert_id FROM alert_events WHERE detonation_id = ?)');
    return (await this.ex.all<AlertCols>(sql(`SELECT * FROM alerts ${w} ORDER BY time_generated, system_alert_id`), w.args)).map(toAlert);
  }

  async pageAlerts(q: AlertPageQuery): Promise<AlertPage> {
    const d = this.ex.dialect;
    const statusCol = q.product ? 'c.status' : 'a.status';
    const inList = (col: string) => (d === 'sqlite' ? `${col} IN (SELECT value FROM json_each(?))` : `${col} IN (SELECT json_array_elements_text(?::json))`);
    const join = q.product ? 'JOIN alert_copies c ON c.system_alert_id = a.system_alert_id AND c.product = ?' : '';
    const list = <T extends string>(v: T | T[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
    // One value is `col = ?`: the (col, end_time) index then yields rows already in time order, so a
    // page stops after LIMIT rows; an IN list is a set of ranges, sorted whole before the LIMIT.
    const oneOrList = (w: Where, values: string[] | undefined, col: string) =>
      (values?.length === 1 ? w.when(values[0], `${col} = ?`) : w.whenList(values, inList(col)));
    const w = new Where();
    oneOrList(w, list(q.severity), 'a.severity');
    oneOrList(w, list(q.status), statusCol);
    w
      .when(q.alertType, 'a.alert_type = ?')
      .when(q.resourceId, 'a.resource_id = ?')
      .when(q.machine && `%/machines/${q.machine.replace(/[\\%_]/g, (c) => `\\${c}`)}`, `a.resource_id LIKE ? ESCAPE '\\'`)
      .whenNumber(q.from !== undefined && Number.isFinite(q.from) ? Math.ceil(q.from) : undefined, 'a.end_time >= ?')
      .whenNumber(q.to !== undefined && Number.isFinite(q.to) ? Math.floor(q.to) : undefined, 'a.end_time <= ?');
    if (q.search) {
      const like = `%${q.search.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
      const field = (f: string) => (d === 'postgres' ? `(a.properties->>'${f}')` : `json_extract(a.properties, '$.${f}')`);
      const op = d === 'postgres' ? 'ILIKE' : 'LIKE';
      w.raw(`(${field('alertDisplayName')} ${op} ? ESCAPE '\\' OR a.alert_type ${op} ? ESCAPE '\\' OR ${field('compromisedEntity')} ${op} ? ESCAPE '\\')`);
      w.args.push(like, like, like);
    }
    const joinArgs = q.product ? [q.product] : [];
    const dir = q.dir === 'asc' ? 'ASC' : 'DESC';
    const name = d === 'sqlite' ? `(a.properties ->> '$.alertDisplayName')` : `(a.properties ->> 'alertDisplayName')`;
    const key = {
      time: 'a.end_time',
      severity: `CASE a.severity WHEN 'High' THEN 3 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 1 ELSE 0 END`,
      status: statusCol,
      name,
      count: 'a.count',
    }[q.sort ?? 'time'];
    const from = `FROM alerts a ${join} ${w}`;
    const viewCols = q.product ? ', c.status AS view_status, c.copy_id AS view_id' : '';
    const [rows, total] = await Promise.all([
      this.ex.all<AlertCols & { view_status?: AlertStatus; view_id?: string }>(
        sql(`SELECT a.*${viewCols} ${from} ORDER BY ${key} ${dir}, a.system_alert_id ${dir} LIMIT ? OFFSET ?`),
        [...joinArgs, ...w.args, q.limit, q.offset],
      ),
      this.ex.get<{ n: number | string }>(sql(`SELECT COUNT(*) AS n ${from}`), [...joinArgs, ...w.args]),
    ]);
    return {
      rows: rows.map((r) => ({ ...toAlert(r), ...(r.view_status ? { viewStatus: r.view_status, viewId: r.view_id } : {}) })),
      total: Number(total?.n ?? 0),
    };
  }

  async alertCountsOverTime(from: number, bucketMs: number): Promise<Array<{ bucket: number; severity: AlertSeverity; count: number }>> {
    const rows = await this.ex.all<{ b: number | string; severity: AlertSeverity; n: number | string }>(sqlPer({
      sqlite: `SELECT CAST((time_generated - ?) / ? AS INTEGER) AS b, severity, COUNT(*) AS n FROM alerts WHERE time_generated >= ? GROUP BY b, severity ORDER BY b`,
      postgres: `SELECT (time_generated - ?::bigint) / ?::bigint AS b, severity, COUNT(*) AS n FROM alerts WHERE time_generated >= ?::bigint GROUP BY b, severity ORDER BY b`,
    }), [from, bucketMs, from]);
    return rows.map((r) => ({ bucket: from + Math.floor(Number(r.b)) * bucketMs, severity: r.severity, count: Number(r.n) }));
  }

  async alertCounts(resourceIds?: string[]): Promise<Array<{ severity: AlertSeverity; status: AlertStatus; count: number }>> {
    const rows = resourceIds
      ? await this.ex.all<{ severity: AlertSeverity; status: AlertStatus; n: number | string }>(sqlPer({
        sqlite: `SELECT severity, status, COUNT(*) AS n FROM alerts WHERE resource_id IN (SELECT value FROM json_each(?)) GROUP BY severity, status`,
        postgres: `SELECT severity, status, COUNT(*) AS n FROM alerts WHERE resource_id IN (SELECT json_array_elements_text(?::json)) GROUP BY severity, status`,
      }), [JSON.stringify(resourceIds)])
      : await this.ex.all<{ severity: AlertSeverity; status: AlertStatus; n: number | string }>(sql(`SELECT severity, status, COUNT(*) AS n FROM alerts GROUP BY severity, status`));
    return rows.map((r) => ({ severity: r.severity, status: r.status, count: Number(r.n) }));
  }

  async setAlertStatus(id: string, status: AlertStatus, at: number): Promise<void> {
    await this.ex.atomic(async (ex) => {
      const before = await ex.get<{ status: AlertStatus }>(Q.statusOf, [id]);
      await ex.run(Q.setAlertStatus, [status, at, id]);
      // Only a change of status is news for the sinks (setting the same status again is not).
      if (before && before.status !== status) await ex.run(Q.outbox, [id, 'status', status, at]);
    });
  }

  async setAlertTriage(id: string, fields: Record<string, string | null>, at: number): Promise<boolean> {
    return (await this.ex.run(Q.setTriage, [JSON.stringify(fields), at, id])) > 0;
  }

  async alertsSharing(keys: EntityKey[], since: number): Promise<AlertRow[]> {
    if (keys.length === 0) return [];
    return (await this.ex.all<AlertCols>(Q.sharing, [JSON.stringify(keys), since])).map(toAlert);
  }

  async mergeAlertProperties(id: string, patch: Record<string, unknown>, at: number): Promise<boolean> {
    return (await this.ex.run(Q.setTriage, [JSON.stringify(patch), at, id])) > 0;
  }

  async linkAlertEvents(id: string, links: Array<{ reportId: string; detonationId: string | null }>): Promise<void> {
    if (links.length === 0) return;
    if (this.ex.dialect === 'sqlite') {
      await this.ex.runEach(Q.linkEvent, links.map((l) => [id, l.reportId, l.detonationId]));
      return;
    }
    await this.ex.run(Q.linkEvents, [id, JSON.stringify(links.map((l) => ({ report_id: l.reportId, detonation_id: l.detonationId })))]);
  }

  async alertEvents(id: string): Promise<Array<{ reportId: string; detonationId: string | null }>> {
    return (await this.ex.all<AlertEventCols>(Q.alertEvents, [id])).map(toAlertEvent);
  }

  async insertAlertCopies(copies: AlertCopyRow[]): Promise<void> {
    if (copies.length === 0) return;
    await this.ex.run(Q.insertCopies, [JSON.stringify(copies.map((c) => ({
      system_alert_id: c.systemAlertId, product: c.product, copy_id: c.copyId, status: c.status, updated_at: c.updatedAt,
    })))]);
  }

  async alertCopies(id: string): Promise<AlertCopyRow[]> {
    return (await this.ex.all<CopyCols>(Q.copies, [id])).map(toCopy);
  }

  async findAlertCopies(copyId: string): Promise<AlertCopyRow[]> {
    return (await this.ex.all<CopyCols>(Q.copiesById, [copyId])).map(toCopy);
  }

  async setCopyStatus(id: string, product: string, status: AlertStatus, at: number): Promise<void> {
    await this.ex.run(Q.setCopyStatus, [status, at, id, product]);
  }

  async addAlertSource(r: AlertSourceRow): Promise<void> {
    await this.ex.run(Q.addSource, [r.systemAlertId, r.kind, r.resourceId, r.detail, r.firstTime, r.lastTime, r.count]);
  }

  async alertSources(id: string): Promise<AlertSourceRow[]> {
    return (await this.ex.all<AlertSourceCols>(Q.sources, [id])).map(toAlertSource);
  }

  async addAlertEntities(id: string, keys: EntityKey[], time: number): Promise<void> {
    if (keys.length === 0) return;
    await this.ex.run(Q.addEntities, [id, time, JSON.stringify(keys)]);
  }
}
