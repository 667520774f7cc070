import type { SensorEvent } from '../../../protocol/index.ts';
import { sql, sqlPer, Where, type Param } from '../sql.ts';
import { toEvent, toRuleHit, type EventDataCols, type RuleHitCols } from '../row-decoding.ts';
import type { EventScan, EventsRepository, RuleGroup, RuleHit, TimelineQuery } from '../store.ts';
import type { Executor } from '../executor.ts';
import { RepositoryBase } from './base.ts';
import { toEventRows, type EventRows } from '../event-rows.ts';

const Q = {
  // The ingest hot path. SQLite: one prepared insert per event (fastest there, and its change
  // count says whether the event is new). PostgreSQL: one round trip for the whole batch; ON
  // CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit or roll back, so
  // across replicas each event is "new" in exactly one transaction. The key is (agent, ReportId):
  // an agent's redelivery is deduplicated, another agent reusing the ReportId is not (issue 12).
  insertEvent: sql(`INSERT INTO events (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, report_id) DO NOTHING`),
  insertEvents: sql(`INSERT INTO events (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
                     SELECT r, ?, t, ts, d, j::json, ? FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[]) AS u(r, t, ts, d, j)
                     ON CONFLICT (agent_id, report_id) DO NOTHING RETURNING report_id`),
  getEvents: sql((d) => `SELECT report_id, data FROM events WHERE ${d.inList('report_id')}`),
  // Correlation is read-count-consume over a group's hits. On PostgreSQL the insert first takes
  // a lock on (rule, group), so two replicas never both count the same hits, nor miss each
  // other's; SQLite's single connection already runs one transaction at a time.
  addHit: sqlPer({
    sqlite: `INSERT INTO rule_hits (rule_id, group_key, event_time, report_id, detonation_id, value)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    postgres: `INSERT INTO rule_hits (rule_id, group_key, event_time, report_id, detonation_id, value)
               SELECT ?, ?, ?, ?, ?, ? FROM (SELECT pg_advisory_xact_lock(hashtextextended(?::text || chr(31) || ?::text, 0))) AS lock
               ON CONFLICT DO NOTHING`,
  }),
  // No lock here: the caller's addRuleHit took the group's lock in an earlier statement, and at
  // READ COMMITTED this later statement sees everything committed before that lock was granted.
  hits: sql(`SELECT * FROM rule_hits WHERE rule_id = ? AND group_key = ? AND event_time BETWEEN ? AND ? ORDER BY event_time, report_id`),
  deleteHits: sql((d) => `DELETE FROM rule_hits WHERE rule_id = ? AND group_key = ? AND ${d.inList('report_id')}`),
  groupStarts: sql(`SELECT group_key, MIN(event_time) AS first FROM rule_hits WHERE rule_id = ?
                    GROUP BY group_key HAVING MIN(event_time) <= ? ORDER BY first, group_key`),
  pruneHits: sql(`DELETE FROM rule_hits WHERE rule_id = ? AND group_key = ? AND event_time < ?`),
  // A scratch store's deferred data (DeferredEventData), written before a read returns the row.
  writeData: sql(`UPDATE events SET data = ? WHERE report_id = ? AND agent_id = ?`),
  // Correlation state per group commit (detection/hit-windows.ts): the groups' locks in one
  // statement, in the caller's (sorted) order: the function scan yields the arrays in order and
  // the aggregate evaluates the lock row by row. The lock key is addHit's, so both paths exclude
  // each other. Then every hit of those groups in one read, and the writes in one statement each.
  lockGroups: sql(`SELECT count(pg_advisory_xact_lock(hashtextextended(r || chr(31) || g, 0))) AS n FROM unnest(?::text[], ?::text[]) AS k(r, g)`),
  groupHits: sqlPer({
    sqlite: `SELECT h.* FROM json_each(?) AS k CROSS JOIN rule_hits AS h
             ON h.rule_id = k.value ->> '$[0]' AND h.group_key = k.value ->> '$[1]'`,
    postgres: `SELECT h.* FROM unnest(?::text[], ?::text[]) AS k(r, g)
               JOIN rule_hits AS h ON h.rule_id = k.r COLLATE "C" AND h.group_key = k.g COLLATE "C"`,
  }),
  deleteHit: sql(`DELETE FROM rule_hits WHERE rule_id = ? AND group_key = ? AND report_id = ?`),
  deleteHitsOf: sql(`DELETE FROM rule_hits AS h USING unnest(?::text[], ?::text[], ?::text[]) AS k(r, g, id)
                     WHERE h.rule_id = k.r COLLATE "C" AND h.group_key = k.g COLLATE "C" AND h.report_id = k.id COLLATE "C"`),
  insertHits: sql(`INSERT INTO rule_hits (rule_id, group_key, event_time, report_id, detonation_id, value)
                   SELECT r, g, t, id, d, v FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[]) AS u(r, g, t, id, d, v)
                   ON CONFLICT DO NOTHING`),
  // The partial index events_file_certificates (migration 011) serves this.
  latestCertificates: sql(`SELECT data FROM events WHERE tbl = 'DeviceFileCertificateInfo' ORDER BY ts DESC, report_id DESC LIMIT ?`),
};

/**
 * A scratch store's events whose `data` column is not written yet (SqliteStoreOptions.scratch):
 * their rows hold the key columns and an empty `data`, and the events themselves stay in memory
 * until a read of the events table needs them. Every such read first writes the `data` of the
 * rows it may return (`getEvents`: of the ReportIds asked for; every other read: all of them),
 * so it answers exactly as if `data` had been written on insert. A row's dedup is still the
 * insert's `ON CONFLICT`. Shared by the store's repositories and those of its transactions; a
 * pending event whose row a rolled-back transaction took away only costs an UPDATE of no row.
 */
export class DeferredEventData {
  /**
   * By ReportId: the events whose row's `data` is still empty, with their agent: one pair, or a
   * list of pairs when agents share the ReportId (rare: one allocation per event otherwise).
   */
  private readonly pending = new Map<string, [agentId: string, event: SensorEvent] | Array<[string, SensorEvent]>>();

  get size(): number {
    return this.pending.size;
  }

  add(agentId: string, event: SensorEvent): void {
    const had = this.pending.get(event.ReportId);
    if (had === undefined) this.pending.set(event.ReportId, [agentId, event]);
    else if (typeof had[0] === 'string') this.pending.set(event.ReportId, [had as [string, SensorEvent], [agentId, event]]);
    else (had as Array<[string, SensorEvent]>).push([agentId, event]);
  }

  /** The pending events of these ReportIds (default: every one), no longer pending, as (agent, event) pairs. */
  take(reportIds?: readonly string[]): Array<[string, SensorEvent]> {
    const out: Array<[string, SensorEvent]> = [];
    for (const id of reportIds ?? [...this.pending.keys()]) {
      const had = this.pending.get(id);
      if (had === undefined) continue;
      this.pending.delete(id);
      if (typeof had[0] === 'string') out.push(had as [string, SensorEvent]);
      else out.push(...(had as Array<[string, SensorEvent]>));
    }
    return out;
  }
}

export class EventsRepo extends RepositoryBase implements EventsRepository {
  constructor(ex: Executor, private readonly deferred?: DeferredEventData) {
    super(ex);
  }

  async insertEvents(agentId: string, events: SensorEvent[], receivedAt: number): Promise<SensorEvent[]> {
    const deferred = this.deferred;
    if (deferred && this.ex.dialect === 'sqlite') {
      // A scratch store: the key columns now, the JSON when a read needs it (DeferredEventData).
      const changes = await this.ex.runEach(Q.insertEvent, events.map((e) => [
        e.ReportId, agentId, e.Table, Date.parse(e.Timestamp), e.DetonationId ?? null, '', receivedAt,
      ]));
      const fresh = events.filter((_, i) => changes[i] === 1);
      for (const e of fresh) deferred.add(agentId, e);
      return fresh;
    }
    return (await this.insertEventRows(agentId, toEventRows(events), receivedAt)).map((i) => events[i]!);
  }

  async insertEventRows(agentId: string, rows: EventRows, receivedAt: number): Promise<number[]> {
    const n = rows.reportIds.length;
    if (n === 0) return [];
    const fresh: number[] = [];
    if (this.ex.dialect === 'sqlite') {
      const params: Array<readonly Param[]> = new Array(n);
      for (let i = 0; i < n; i++) params[i] = [rows.reportIds[i]!, agentId, rows.tables[i]!, rows.times[i]!, rows.detonationIds[i]!, rows.data[i]!, receivedAt];
      const changes = await this.ex.runEach(Q.insertEvent, params);
      for (let i = 0; i < n; i++) if (changes[i] === 1) fresh.push(i);
      return fresh;
    }
    const inserted = await this.ex.all<{ report_id: string }>(Q.insertEvents, [
      agentId, receivedAt, rows.reportIds, rows.tables, rows.times, rows.detonationIds, rows.data,
    ]);
    const stored = new Set(inserted.map((r) => r.report_id));
    // In batch order, and a ReportId repeated within the batch counts once (as in SQLite).
    for (let i = 0; i < n; i++) if (stored.delete(rows.reportIds[i]!)) fresh.push(i);
    return fresh;
  }

  async getEvents(reportIds: string[]): Promise<SensorEvent[]> {
    if (reportIds.length === 0) return [];
    await this.writeDeferred(reportIds);
    const rows = await this.ex.all<EventDataCols>(Q.getEvents, [JSON.stringify(reportIds)]);
    const byId = new Map(rows.map((r) => [r.report_id, r]));
    return reportIds.flatMap((id) => {
      const r = byId.get(id);
      return r ? [toEvent(r)] : [];
    });
  }

  async countEvents(f: { agentId?: string; detonationId?: string } = {}): Promise<number> {
    const w = eventWhere(f);
    return (await this.ex.get<{ n: number }>(sql(`SELECT COUNT(*) AS n FROM events ${w}`), w.args))!.n;
  }

  async listEvents(f: { detonationId?: string; agentId?: string; limit?: number }): Promise<SensorEvent[]> {
    await this.writeDeferred();
    const w = eventWhere(f);
    const q = sql(`SELECT data FROM events ${w} ORDER BY ts, report_id LIMIT ?`);
    return (await this.ex.all<Pick<EventDataCols, 'data'>>(q, [...w.args, f.limit ?? 10_000])).map(toEvent);
  }

  async scanEvents(scan: EventScan): Promise<SensorEvent[]> {
    await this.writeDeferred();
    const w = new Where().raw('tbl = ?');
    const args: Param[] = [scan.table];
    if (scan.from !== undefined && Number.isFinite(scan.from)) { w.raw('ts >= ?'); args.push(Math.ceil(scan.from)); }
    if (scan.to !== undefined && Number.isFinite(scan.to)) { w.raw('ts <= ?'); args.push(Math.floor(scan.to)); }
    const sqlite: string[] = []; const postgres: string[] = [];
    for (const e of scan.equals ?? []) {
      // DeviceId is the sending agent's id (the gateway refuses any other), so it is the indexed agent_id.
      const col = e.column === 'DeviceId' ? 'agent_id' : undefined;
      sqlite.push(col ? `${col} IN (SELECT value FROM json_each(?))` : `json_extract(data, '$.${e.column}') IN (SELECT value FROM json_each(?))`);
      postgres.push(col ? `${col} IN (SELECT json_array_elements_text(?::json))` : `data->>'${e.column}' IN (SELECT json_array_elements_text(?::json))`);
      args.push(JSON.stringify(e.values));
    }
    for (const c of scan.contains ?? []) {
      if (!/^[A-Za-z]+$/.test(c.column)) continue;
      // LIKE is case-insensitive for ASCII in SQLite; ILIKE in PostgreSQL. `\` escapes the wildcards.
      sqlite.push(`json_extract(data, '$.${c.column}') LIKE ? ESCAPE '\\'`);
      postgres.push(`data->>'${c.column}' ILIKE ? ESCAPE '\\'`);
      args.push(`%${c.text.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
    }
    // Newest first: when a scan reaches its limit, what it keeps is the most recent (what hunting is after).
    const base = `SELECT data FROM events ${w}`;
    const q = sqlPer({
      sqlite: `${base}${sqlite.map((c) => ` AND ${c}`).join('')} ORDER BY ts DESC, report_id DESC LIMIT ?`,
      postgres: `${base}${postgres.map((c) => ` AND ${c}`).join('')} ORDER BY ts DESC, report_id DESC LIMIT ?`,
    });
    return (await this.ex.all<Pick<EventDataCols, 'data'>>(q, [...args, scan.limit])).map(toEvent);
  }

  async deviceTimeline(q: TimelineQuery): Promise<SensorEvent[]> {
    await this.writeDeferred();
    const pg = this.ex.dialect === 'postgres';
    const w = new Where().raw('agent_id = ?');
    const args: Param[] = [q.agentId];
    if (q.table) { w.raw('tbl = ?'); args.push(q.table); }
    if (q.from !== undefined && Number.isFinite(q.from)) { w.raw('ts >= ?'); args.push(Math.ceil(q.from)); }
    if (q.to !== undefined && Number.isFinite(q.to)) { w.raw('ts <= ?'); args.push(Math.floor(q.to)); }
    if (q.before) { w.raw('(ts < ? OR (ts = ? AND report_id < ?))'); args.push(q.before.ts, q.before.ts, q.before.reportId); }
    if (q.actionType) { w.raw(pg ? `data->>'ActionType' = ?` : `json_extract(data, '$.ActionType') = ?`); args.push(q.actionType); }
    // Newest first on the (agent_id, ts) index; the ReportId breaks ties so pages never overlap.
    const text = `SELECT data FROM events ${w} ORDER BY ts DESC, report_id DESC LIMIT ?`;
    return (await this.ex.all<Pick<EventDataCols, 'data'>>(sqlPer({ sqlite: text, postgres: text }), [...args, q.limit])).map(toEvent);
  }

  async latestFileCertificates(limit: number): Promise<SensorEvent[]> {
    await this.writeDeferred();
    return (await this.ex.all<Pick<EventDataCols, 'data'>>(Q.latestCertificates, [limit])).map(toEvent).reverse();
  }

  /** Writes the deferred `data` of the events of these ReportIds (default: of every event). */
  private async writeDeferred(reportIds?: readonly string[]): Promise<void> {
    if (!this.deferred?.size) return;
    const rows = this.deferred.take(reportIds).map(([agentId, event]): Param[] => [JSON.stringify(event), event.ReportId, agentId]);
    if (rows.length) await this.ex.runEach(Q.writeData, rows);
  }

  async addRuleHit(h: RuleHit): Promise<void> {
    const params = [h.ruleId, h.groupKey, h.eventTime, h.reportId, h.detonationId, h.value];
    await this.ex.run(Q.addHit, this.ex.dialect === 'postgres' ? [...params, h.ruleId, h.groupKey] : params);
  }

  async ruleHits(ruleId: string, groupKey: string, from: number, to: number): Promise<RuleHit[]> {
    return (await this.ex.all<RuleHitCols>(Q.hits, [ruleId, groupKey, from, to])).map(toRuleHit);
  }

  async deleteRuleHits(ruleId: string, groupKey: string, reportIds: string[]): Promise<void> {
    if (reportIds.length === 0) return;
    await this.ex.run(Q.deleteHits, [ruleId, groupKey, JSON.stringify(reportIds)]);
  }

  async ruleGroupStarts(ruleId: string, before: number): Promise<Array<{ groupKey: string; first: number }>> {
    // A BIGINT column compares with no infinity: "no bound" is the largest safe time.
    const rows = await this.ex.all<{ group_key: string; first: number }>(Q.groupStarts, [ruleId, Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER]);
    return rows.map((r) => ({ groupKey: r.group_key, first: r.first }));
  }

  async pruneRuleHits(ruleId: string, groupKey: string, before: number): Promise<void> {
    await this.ex.run(Q.pruneHits, [ruleId, groupKey, before]);
  }

  async lockRuleGroups(keys: readonly RuleGroup[]): Promise<void> {
    if (keys.length === 0 || this.ex.dialect === 'sqlite') return;
    await this.ex.get(Q.lockGroups, [keys.map((k) => k.ruleId), keys.map((k) => k.groupKey)]);
  }

  async ruleGroupHits(keys: readonly RuleGroup[]): Promise<RuleHit[]> {
    if (keys.length === 0) return [];
    const params = this.ex.dialect === 'sqlite'
      ? [JSON.stringify(keys.map((k) => [k.ruleId, k.groupKey]))]
      : [keys.map((k) => k.ruleId), keys.map((k) => k.groupKey)];
    return (await this.ex.all<RuleHitCols>(Q.groupHits, params)).map(toRuleHit);
  }

  async writeRuleHits(removed: ReadonlyArray<Pick<RuleHit, 'ruleId' | 'groupKey' | 'reportId'>>, added: readonly RuleHit[]): Promise<void> {
    if (this.ex.dialect === 'sqlite') {
      // One connection in-process: a prepared statement per row costs no round trip.
      if (removed.length) await this.ex.runEach(Q.deleteHit, removed.map((h) => [h.ruleId, h.groupKey, h.reportId]));
      if (added.length) await this.ex.runEach(Q.addHit, added.map((h) => [h.ruleId, h.groupKey, h.eventTime, h.reportId, h.detonationId, h.value]));
      return;
    }
    if (removed.length) await this.ex.run(Q.deleteHitsOf, [removed.map((h) => h.ruleId), removed.map((h) => h.groupKey), removed.map((h) => h.reportId)]);
    if (added.length) {
      await this.ex.run(Q.insertHits, [
        added.map((h) => h.ruleId), added.map((h) => h.groupKey), added.map((h) => h.eventTime), added.map((h) => h.reportId),
        added.map((h) => h.detonationId), added.map((h) => h.value),
      ]);
    }
  }
}

function eventWhere(f: { agentId?: string; detonationId?: string }): Where {
  return new Where().when(f.agentId, 'agent_id = ?').when(f.detonationId, 'detonation_id = ?');
}
