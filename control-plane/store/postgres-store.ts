import pg from 'pg';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SensorEvent } from '../../protocol/index.ts';
import { protocolError } from '../../protocol/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { readMigrations } from './sqlite-store.ts';
import type {
  AgentRow, AlertCopyRow, AlertFilter, AlertRow, AlertSeverity, AlertSourceRow, AlertStatus, ArcStatus, AssessmentRow, AssetRow,
  ConnectorRow, CspmResourceRow, EntityKey, ExtensionRow, IdentityConflictRow, IncidentRow, MachineRow, PlanRow, RuleHit,
  SnapshotLogRow, Store, StoreTx, SyncAuditRow, TestRunRow, TokenRow,
} from './store.ts';
import { toCopy, toIncident, toToken } from './row-mappers.ts';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations', 'postgres');

/**
 * Advisory lock keys (one bigint namespace per database). Taken with pg_advisory_xact_lock, so
 * they are released by COMMIT/ROLLBACK and can never leak past a transaction.
 */
const LOCK_SQL = {
  /** Start-up: one replica at a time applies migrations. */
  migrations: `SELECT pg_advisory_xact_lock(hashtextextended('arcsim:migrations', 0))`,
  /** Incident correlation and refresh: read-decide-write over several rows (see incidentsSharing). */
  incidents: `SELECT pg_advisory_xact_lock(hashtextextended('arcsim:incidents', 0))`,
  /** Asset merge: read the previous merge, recompute, replace it (see listAssets / replaceAssets). */
  assets: `SELECT pg_advisory_xact_lock(hashtextextended('arcsim:assets', 0))`,
};

/** SQLSTATEs after which PostgreSQL has rolled the transaction back and running it again is safe. */
const RETRYABLE = new Set(['40001' /* serialization_failure */, '40P01' /* deadlock_detected */]);
const MAX_ATTEMPTS = 5;

type Row = Record<string, any>;

/** Runs SQL on the pool (one implicit transaction per statement) or on a transaction's client. */
interface Runner {
  readonly inTransaction: boolean;
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult<Row>>;
  /** Runs `fn` atomically: inside the current transaction, or in a new one. */
  atomic<T>(fn: (ops: PgOps) => Promise<T>): Promise<T>;
}

/**
 * Every Store/StoreTx method as SQL. Most are one statement (multi-row writes use unnest) so a
 * call on the store directly is atomic by itself; `upsertAlert` needs two and goes through
 * `atomic`. Statements run at READ COMMITTED: each sees everything committed before it started,
 * which is what the upserts below rely on after they wait for a concurrent writer.
 */
class PgOps implements StoreTx {
  /** Public so a store-level method can run statements on the transaction `atomic` hands it. */
  constructor(readonly run: Runner) {}

  private async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.run.query(sql, params)).rows;
  }

  async insertEvents(agentId: string, events: SensorEvent[], receivedAt: number): Promise<SensorEvent[]> {
    if (events.length === 0) return [];
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same ReportId to commit or roll
    // back, so across replicas each event is "new" in exactly one transaction.
    const inserted = await this.rows(
      `INSERT INTO events (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
       SELECT r, $1, t, ts, d, j::json, $2 FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[]) AS u(r, t, ts, d, j)
       ON CONFLICT (report_id) DO NOTHING RETURNING report_id`,
      [agentId, receivedAt, events.map((e) => e.ReportId), events.map((e) => e.Table), events.map((e) => Date.parse(e.Timestamp)),
        events.map((e) => e.DetonationId ?? null), events.map((e) => JSON.stringify(e))],
    );
    const fresh = new Set(inserted.map((r) => r.report_id as string));
    // In batch order, and a ReportId repeated within the batch counts once (as in SQLite).
    return events.filter((e) => fresh.delete(e.ReportId));
  }

  async addRuleHit(h: RuleHit): Promise<void> {
    // Correlation is read-count-consume over a group's hits: serialise transactions on one
    // (rule, group) so two replicas never both count the same hits, nor miss each other's.
    await this.run.query(
      `INSERT INTO rule_hits (rule_id, group_key, event_time, report_id, detonation_id, value)
       SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))) AS lock
       ON CONFLICT DO NOTHING`,
      [h.ruleId, h.groupKey, h.eventTime, h.reportId, h.detonationId, h.value],
    );
  }

  async ruleHits(ruleId: string, groupKey: string, from: number, to: number): Promise<RuleHit[]> {
    // No lock here: the caller's addRuleHit took the group's lock in an earlier statement, and
    // at READ COMMITTED this later statement sees everything committed before that lock was granted.
    const rows = await this.rows(
      `SELECT * FROM rule_hits WHERE rule_id = $1 AND group_key = $2 AND event_time BETWEEN $3 AND $4 ORDER BY event_time, report_id`,
      [ruleId, groupKey, from, to],
    );
    return rows.map((r) => ({
      ruleId: r.rule_id, groupKey: r.group_key, eventTime: r.event_time, reportId: r.report_id, detonationId: r.detonation_id, value: r.value,
    }));
  }

  async deleteRuleHits(ruleId: string, groupKey: string, reportIds: string[]): Promise<void> {
    if (reportIds.length === 0) return;
    await this.run.query(`DELETE FROM rule_hits WHERE rule_id = $1 AND group_key = $2 AND report_id = ANY($3::text[])`, [ruleId, groupKey, reportIds]);
  }

  async getAgent(agentId: string): Promise<AgentRow | undefined> {
    const r = (await this.run.query(`SELECT * FROM agents WHERE agent_id = $1`, [agentId])).rows[0];
    return r && {
      agentId: r.agent_id, keyHash: r.key_hash, tokenId: r.token_id, subscription: r.subscription,
      resourceGroup: r.resource_group, location: r.location, hostname: r.hostname, enrolledAt: r.enrolled_at,
    };
  }

  async ruleGroupStarts(ruleId: string, before: number): Promise<Array<{ groupKey: string; first: number }>> {
    const r = await this.run.query(
      `SELECT group_key, MIN(event_time) AS first FROM rule_hits WHERE rule_id = $1
       GROUP BY group_key HAVING MIN(event_time) <= $2 ORDER BY first, group_key`,
      [ruleId, Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER],
    );
    return r.rows.map((x) => ({ groupKey: x.group_key, first: Number(x.first) }));
  }

  async getEvents(reportIds: string[]): Promise<SensorEvent[]> {
    if (reportIds.length === 0) return [];
    const r = await this.run.query(`SELECT report_id, data FROM events WHERE report_id = ANY($1::text[])`, [reportIds]);
    const byId = new Map(r.rows.map((x) => [x.report_id as string, x.data as SensorEvent]));
    return reportIds.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  }

  async pruneRuleHits(ruleId: string, groupKey: string, before: number): Promise<void> {
    await this.run.query(`DELETE FROM rule_hits WHERE rule_id = $1 AND group_key = $2 AND event_time < $3`, [ruleId, groupKey, before]);
  }


  upsertAlert(a: AlertRow, windowMs: number): Promise<{ alert: AlertRow; created: boolean }> {
    // Two statements, not one with CTEs: after the claim waited for a concurrent replica's claim
    // to commit, the alert row that replica inserted is visible only to a *later* statement.
    return this.run.atomic(async (ops) => {
      const [claim] = await ops.rows(
        `INSERT INTO alert_dedup (dedup_key, system_alert_id, last_time) VALUES ($1, $2, $3)
         ON CONFLICT (dedup_key) DO UPDATE SET
           system_alert_id = CASE WHEN ABS(EXCLUDED.last_time - alert_dedup.last_time) <= $4::float8
                                  THEN alert_dedup.system_alert_id ELSE EXCLUDED.system_alert_id END,
           last_time = CASE WHEN ABS(EXCLUDED.last_time - alert_dedup.last_time) <= $4::float8
                            THEN GREATEST(alert_dedup.last_time, EXCLUDED.last_time) ELSE EXCLUDED.last_time END
         RETURNING system_alert_id`,
        [a.dedupKey, a.systemAlertId, a.endTime, windowMs],
      );
      const owner = claim!.system_alert_id as string;
      if (owner === a.systemAlertId) {
        const [row] = await ops.rows(
          `INSERT INTO alerts (system_alert_id, dedup_key, alert_type, rule_id, agent_id, resource_id, severity, status, count,
             start_time, end_time, time_generated, updated_at, latency_ms, properties)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::json) RETURNING *`,
          [a.systemAlertId, a.dedupKey, a.alertType, a.ruleId, a.agentId, a.resourceId, a.severity, a.status, a.count,
            a.startTime, a.endTime, a.timeGenerated, a.updatedAt, a.latencyMs, JSON.stringify(a.properties)],
        );
        return { alert: toAlert(row!), created: true };
      }
      const [row] = await ops.rows(
        `UPDATE alerts SET count = count + 1, start_time = LEAST(start_time, $1), end_time = GREATEST(end_time, $2), updated_at = $3
         WHERE system_alert_id = $4 RETURNING *`,
        [a.startTime, a.endTime, a.updatedAt, owner],
      );
      if (!row) throw new Error(`alert_dedup names alert ${owner} for ${a.dedupKey}, but no such alert exists`);
      return { alert: toAlert(row), created: false };
    });
  }

  async linkAlertEvents(id: string, links: Array<{ reportId: string; detonationId: string | null }>): Promise<void> {
    if (links.length === 0) return;
    await this.run.query(
      `INSERT INTO alert_events (system_alert_id, report_id, detonation_id)
       SELECT $1, r, d FROM unnest($2::text[], $3::text[]) AS u(r, d) ON CONFLICT DO NOTHING`,
      [id, links.map((l) => l.reportId), links.map((l) => l.detonationId)],
    );
  }

  async insertAlertCopies(copies: AlertCopyRow[]): Promise<void> {
    if (copies.length === 0) return;
    await this.run.query(
      `INSERT INTO alert_copies (system_alert_id, product, copy_id, status, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) ON CONFLICT DO NOTHING`,
      [copies.map((c) => c.systemAlertId), copies.map((c) => c.product), copies.map((c) => c.copyId), copies.map((c) => c.status), copies.map((c) => c.updatedAt)],
    );
  }

  async alertCopies(id: string): Promise<AlertCopyRow[]> {
    return (await this.rows(`SELECT * FROM alert_copies WHERE system_alert_id = $1 ORDER BY product`, [id])).map(toCopy);
  }

  async findAlertCopies(copyId: string): Promise<AlertCopyRow[]> {
    return (await this.rows(`SELECT * FROM alert_copies WHERE copy_id = $1 ORDER BY product`, [copyId])).map(toCopy);
  }

  async setCopyStatus(id: string, product: string, status: AlertStatus, at: number): Promise<void> {
    await this.run.query(`UPDATE alert_copies SET status = $1, updated_at = $2 WHERE system_alert_id = $3 AND product = $4`, [status, at, id, product]);
  }

  async setAlertStatus(id: string, status: AlertStatus, at: number): Promise<void> {
    await this.run.query(`UPDATE alerts SET status = $1, updated_at = $2 WHERE system_alert_id = $3`, [status, at, id]);
  }

  async addSyncAudit(r: SyncAuditRow): Promise<void> {
    await this.run.query(
      `INSERT INTO sync_audit (at, subject, subject_id, product, from_status, to_status, origin_product, via_product, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [r.at, r.subject, r.subjectId, r.product, r.fromStatus, r.toStatus, r.originProduct, r.viaProduct, r.reason],
    );
  }

  async addAlertEntities(id: string, keys: EntityKey[], time: number): Promise<void> {
    if (keys.length === 0) return;
    await this.run.query(
      `INSERT INTO alert_entities (system_alert_id, kind, value, time)
       SELECT $1, k, v, $2 FROM unnest($3::text[], $4::text[]) AS u(k, v) ON CONFLICT DO NOTHING`,
      [id, time, keys.map((k) => k.kind), keys.map((k) => k.value)],
    );
  }

  async incidentsSharing(keys: EntityKey[], since: number): Promise<IncidentRow[]> {
    // Correlation reads the open incidents, then creates, merges or joins one. Two replicas doing
    // that at once for related alerts would each open an incident; one lock per database makes
    // them take turns (only transactions that create an alert get here, so contention is low).
    await this.lockIncidents();
    if (keys.length === 0) return [];
    const rows = await this.rows(
      `SELECT DISTINCT i.* FROM incidents i
       JOIN incident_alerts ia ON ia.incident_id = i.incident_id
       JOIN alert_entities e ON e.system_alert_id = ia.system_alert_id
       JOIN unnest($1::text[], $2::text[]) AS k(kind, value) ON e.kind = k.kind AND e.value = k.value
       WHERE e.time >= $3 AND i.redirected_to IS NULL AND i.status NOT IN ('Resolved', 'Dismissed')
       ORDER BY i.created_at, i.incident_id`,
      [keys.map((k) => k.kind), keys.map((k) => k.value), since],
    );
    return rows.map(toIncident);
  }

  async insertIncident(r: IncidentRow): Promise<void> {
    await this.run.query(
      `INSERT INTO incidents (incident_id, title, severity, status, sentinel_status, created_at, updated_at, first_activity, last_activity, redirected_to)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [r.incidentId, r.title, r.severity, r.status, r.sentinelStatus, r.createdAt, r.updatedAt, r.firstActivity, r.lastActivity, r.redirectedTo],
    );
  }

  async addIncidentAlert(incidentId: string, alertId: string, at: number): Promise<void> {
    await this.run.query(`INSERT INTO incident_alerts (incident_id, system_alert_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [incidentId, alertId, at]);
  }

  async mergeIncident(into: string, from: string, at: number): Promise<void> {
    // One statement, so it is atomic when called on the store directly too.
    await this.run.query(
      `WITH moved AS (UPDATE incident_alerts SET incident_id = $1 WHERE incident_id = $2)
       UPDATE incidents SET status = 'Resolved', sentinel_status = CASE WHEN sentinel_status IS NULL THEN NULL ELSE 'Resolved' END,
         redirected_to = $1, updated_at = $3 WHERE incident_id = $2`,
      [into, from, at],
    );
  }

  async touchIncident(id: string, p: { severity: AlertSeverity; lastActivity: number; firstActivity: number; updatedAt: number }): Promise<void> {
    await this.run.query(
      `UPDATE incidents SET severity = $1, last_activity = $2, first_activity = $3, updated_at = $4 WHERE incident_id = $5`,
      [p.severity, p.lastActivity, p.firstActivity, p.updatedAt, id],
    );
  }

  async setIncidentStatus(id: string, field: 'status' | 'sentinelStatus', status: AlertStatus, at: number): Promise<void> {
    const column = field === 'status' ? 'status' : 'sentinel_status';
    await this.run.query(`UPDATE incidents SET ${column} = $1, updated_at = $2 WHERE incident_id = $3`, [status, at, id]);
  }

  async getIncident(id: string): Promise<IncidentRow | undefined> {
    const [r] = await this.rows(`SELECT * FROM incidents WHERE incident_id = $1`, [id]);
    return r && toIncident(r);
  }

  async incidentOfAlert(alertId: string): Promise<string | undefined> {
    const [r] = await this.rows(`SELECT incident_id FROM incident_alerts WHERE system_alert_id = $1`, [alertId]);
    return r?.incident_id;
  }

  async incidentAlertIds(id: string): Promise<string[]> {
    // Inside a transaction this starts a read-compute-write (refreshIncident, status changes):
    // take the incidents lock so the write is computed from every committed alert.
    await this.lockIncidents();
    return (await this.rows(`SELECT system_alert_id FROM incident_alerts WHERE incident_id = $1 ORDER BY added_at, system_alert_id`, [id]))
      .map((r) => r.system_alert_id);
  }

  async getAlert(id: string): Promise<AlertRow | undefined> {
    const [r] = await this.rows(`SELECT * FROM alerts WHERE system_alert_id = $1`, [id]);
    return r && toAlert(r);
  }

  async addAlertSource(r: AlertSourceRow): Promise<void> {
    await this.run.query(
      `INSERT INTO alert_sources (system_alert_id, kind, resource_id, detail, first_time, last_time, count)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (system_alert_id, kind, resource_id) DO UPDATE SET count = alert_sources.count + EXCLUDED.count,
         first_time = LEAST(alert_sources.first_time, EXCLUDED.first_time),
         last_time = GREATEST(alert_sources.last_time, EXCLUDED.last_time)`,
      [r.systemAlertId, r.kind, r.resourceId, r.detail, r.firstTime, r.lastTime, r.count],
    );
  }

  async alertSources(id: string): Promise<AlertSourceRow[]> {
    return (await this.rows(`SELECT * FROM alert_sources WHERE system_alert_id = $1 ORDER BY kind, resource_id`, [id])).map((r) => ({
      systemAlertId: r.system_alert_id, kind: r.kind, resourceId: r.resource_id, detail: r.detail,
      firstTime: r.first_time, lastTime: r.last_time, count: r.count,
    }));
  }

  async getConnector(name: string): Promise<ConnectorRow | undefined> {
    const [r] = await this.rows(`SELECT * FROM connectors WHERE name = $1`, [name]);
    return r && toConnector(r);
  }

  async listConnectors(): Promise<ConnectorRow[]> {
    return (await this.rows(`SELECT * FROM connectors ORDER BY name`)).map(toConnector);
  }

  async listCspmResources(f: { connector?: string; kind?: string; includeDeleted?: boolean } = {}): Promise<CspmResourceRow[]> {
    const w = new Where();
    if (f.connector) w.add('connector = ?', f.connector);
    if (f.kind) w.add('kind = ?', f.kind);
    if (!f.includeDeleted) w.raw('deleted_at IS NULL');
    return (await this.rows(`SELECT * FROM cspm_resources ${w.sql()} ORDER BY connector, kind, native_id`, w.args)).map((r) => ({
      connector: r.connector, kind: r.kind, nativeId: r.native_id, resourceId: r.resource_id, name: r.name, region: r.region,
      state: r.state, data: r.data, firstSeen: r.first_seen, lastSeen: r.last_seen, deletedAt: r.deleted_at,
    }));
  }

  async upsertCspmResource(r: CspmResourceRow): Promise<void> {
    await this.run.query(
      `INSERT INTO cspm_resources (connector, kind, native_id, resource_id, name, region, state, data, first_seen, last_seen, deleted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9, $10, $11)
       ON CONFLICT (connector, kind, native_id) DO UPDATE SET resource_id = EXCLUDED.resource_id, name = EXCLUDED.name,
         region = EXCLUDED.region, state = EXCLUDED.state, data = EXCLUDED.data, last_seen = EXCLUDED.last_seen,
         deleted_at = EXCLUDED.deleted_at`,
      [r.connector, r.kind, r.nativeId, r.resourceId, r.name, r.region, r.state, JSON.stringify(r.data), r.firstSeen, r.lastSeen, r.deletedAt],
    );
  }

  async addSnapshotLog(r: SnapshotLogRow): Promise<void> {
    await this.run.query(
      `INSERT INTO cspm_snapshots (connector, kind, source, taken_at, resources, added, changed, deleted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [r.connector, r.kind, r.source, r.takenAt, r.resources, r.added, r.changed, r.deleted],
    );
  }

  async assetOfSource(kind: 'arc' | 'cspm', sourceId: string): Promise<AssetRow | undefined> {
    const [r] = await this.rows(
      `SELECT a.*, ${ASSET_SOURCES} FROM asset_sources s JOIN assets a ON a.asset_id = s.asset_id WHERE s.source_kind = $1 AND s.source_id = $2`,
      [kind, sourceId],
    );
    return r && toAsset(r);
  }

  async listAssets(): Promise<AssetRow[]> {
    // Inside a transaction this starts the merge's read-compute-replace: take the assets lock so
    // two replicas recomputing at once take turns (the second then replaces what the first wrote).
    if (this.run.inTransaction) await this.run.query(LOCK_SQL.assets);
    return (await this.rows(`SELECT a.*, ${ASSET_SOURCES} FROM assets a ORDER BY a.asset_key`)).map(toAsset);
  }

  async replaceAssets(assets: AssetRow[]): Promise<void> {
    // Several statements (a delete and an insert of the same key must not share one), made atomic.
    await this.run.atomic(async (ops) => {
      await ops.run.query(LOCK_SQL.assets);
      await ops.run.query(`DELETE FROM asset_sources`);
      await ops.run.query(`DELETE FROM assets`);
      if (assets.length === 0) return;
      await ops.run.query(
        `INSERT INTO assets (asset_id, asset_key, confidence, conflicts, reasons, updated_at)
         SELECT i, k, c, f::json, r::json, u FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS x(i, k, c, f, r, u)`,
        [assets.map((a) => a.assetId), assets.map((a) => a.assetKey), assets.map((a) => a.confidence), assets.map((a) => JSON.stringify(a.conflicts)),
          assets.map((a) => JSON.stringify(a.reasons)), assets.map((a) => a.updatedAt)],
      );
      const sources = assets.flatMap((a) => a.sources.map((s) => [s.kind, s.id, a.assetId] as const));
      if (sources.length === 0) return;
      await ops.run.query(
        `INSERT INTO asset_sources (source_kind, source_id, asset_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
        [sources.map((s) => s[0]), sources.map((s) => s[1]), sources.map((s) => s[2])],
      );
    });
  }

  async listAssessments(): Promise<AssessmentRow[]> {
    return (await this.rows(`SELECT * FROM assessments ORDER BY assessment_key, resource_id`)).map((r) => ({
      assessmentKey: r.assessment_key, resourceId: r.resource_id, subscription: r.subscription, status: r.status,
      details: r.details, firstSeen: r.first_seen, statusChanged: r.status_changed,
    }));
  }

  async upsertAssessment(a: AssessmentRow): Promise<void> {
    await this.run.query(
      `INSERT INTO assessments (assessment_key, resource_id, subscription, status, details, first_seen, status_changed)
       VALUES ($1, $2, $3, $4, $5::json, $6, $7)
       ON CONFLICT (assessment_key, resource_id) DO UPDATE SET subscription = EXCLUDED.subscription,
         status = EXCLUDED.status, details = EXCLUDED.details, status_changed = EXCLUDED.status_changed`,
      [a.assessmentKey, a.resourceId, a.subscription, a.status, JSON.stringify(a.details), a.firstSeen, a.statusChanged],
    );
  }

  async getMachine(agentId: string): Promise<MachineRow | undefined> {
    const [r] = await this.rows(`SELECT * FROM machines WHERE agent_id = $1`, [agentId]);
    return r && toMachine(r);
  }

  async listMachines(): Promise<MachineRow[]> {
    return (await this.rows(`SELECT * FROM machines ORDER BY registered_at, name`)).map(toMachine);
  }

  async setMachineExtensions(agentId: string, extensions: ExtensionRow[]): Promise<void> {
    await this.run.query(`UPDATE machines SET extensions = $1::json WHERE agent_id = $2`, [JSON.stringify(extensions), agentId]);
  }

  async listPlans(): Promise<PlanRow[]> {
    return (await this.rows(`SELECT * FROM plans ORDER BY scope_kind, scope, plan`)).map((r) => ({
      scopeKind: r.scope_kind, scope: r.scope, plan: r.plan, subPlan: r.sub_plan, enabled: r.enabled, updatedAt: r.updated_at,
    }));
  }

  /** Reads outside a transaction need no lock: a lone statement already sees one consistent snapshot. */
  private async lockIncidents(): Promise<void> {
    if (this.run.inTransaction) await this.run.query(LOCK_SQL.incidents);
  }
}

/** The store-level methods (outside any caller transaction). */
class PgStoreOps extends PgOps {
  async getSetting(key: string): Promise<string | undefined> {
    return (await this.run.query(`SELECT value FROM settings WHERE key = $1`, [key])).rows[0]?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.run.query(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, value]);
  }

  async insertToken(t: TokenRow): Promise<void> {
    await this.run.query(
      `INSERT INTO enrollment_tokens (id, token_hash, subscription, resource_group, location, created_at, expires_at, revoked_at, uses)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [t.id, t.tokenHash, t.subscription, t.resourceGroup, t.location, t.createdAt, t.expiresAt, t.revokedAt, t.uses],
    );
  }

  async findTokenByHash(hash: string): Promise<TokenRow | undefined> {
    const r = (await this.run.query(`SELECT * FROM enrollment_tokens WHERE token_hash = $1`, [hash])).rows[0];
    return r && toToken(r);
  }

  async listTokens(): Promise<TokenRow[]> {
    return (await this.run.query(`SELECT * FROM enrollment_tokens ORDER BY created_at`)).rows.map(toToken);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    return (await this.run.query(`UPDATE enrollment_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, [at, id])).rowCount === 1;
  }

  async enrollAgent(a: AgentRow): Promise<void> {
    // One statement: the agent and its token's use count commit together. `uses = uses + 1`
    // takes the row lock, so concurrent enrollments on one token are all counted.
    await this.run.query(
      `WITH agent AS (
         INSERT INTO agents (agent_id, key_hash, token_id, subscription, resource_group, location, hostname, enrolled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
       UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = $3`,
      [a.agentId, a.keyHash, a.tokenId, a.subscription, a.resourceGroup, a.location, a.hostname, a.enrolledAt],
    );
  }

  async upsertMachine(m: MachineRow): Promise<MachineRow> {
    const r = (await this.run.query(
      `INSERT INTO machines (agent_id, resource_id, name, facts, sql_instances, extensions, status, last_heartbeat, last_status_change, registered_at)
       VALUES ($1, $2, $3, $4::json, $5::json, $6::json, $7, $8, $9, $10)
       ON CONFLICT (agent_id) DO UPDATE SET facts = EXCLUDED.facts, sql_instances = EXCLUDED.sql_instances,
         extensions = EXCLUDED.extensions, last_heartbeat = EXCLUDED.last_heartbeat,
         last_status_change = CASE WHEN machines.status = EXCLUDED.status THEN machines.last_status_change ELSE EXCLUDED.last_status_change END,
         status = EXCLUDED.status
       RETURNING *`,
      [m.agentId, m.resourceId, m.name, JSON.stringify(m.facts), JSON.stringify(m.sqlInstances), JSON.stringify(m.extensions),
        m.status, m.lastHeartbeat, m.lastStatusChange, m.registeredAt],
    )).rows[0]!;
    return toMachine(r);
  }

  async isResourceIdTaken(resourceId: string, exceptAgentId: string): Promise<boolean> {
    return (await this.run.query(`SELECT 1 FROM machines WHERE resource_id = $1 AND agent_id <> $2`, [resourceId, exceptAgentId])).rows.length > 0;
  }

  async recordHeartbeat(agentId: string, at: number): Promise<void> {
    await this.run.query(`UPDATE machines SET last_heartbeat = GREATEST(last_heartbeat, $1) WHERE agent_id = $2`, [at, agentId]);
  }

  async setMachineStatus(agentId: string, status: ArcStatus, at: number): Promise<boolean> {
    return (await this.run.query(
      `UPDATE machines SET status = $1, last_status_change = $2 WHERE agent_id = $3 AND status <> $1`, [status, at, agentId],
    )).rowCount === 1;
  }

  async setMachineTags(agentId: string, tags: Record<string, string>): Promise<void> {
    await this.run.query(`UPDATE machines SET tags = $1::json WHERE agent_id = $2`, [JSON.stringify(tags), agentId]);
  }

  async addNotCollected(agentId: string, counts: Record<string, number>): Promise<void> {
    const entries = Object.entries(counts);
    if (entries.length === 0) return;
    // One UPDATE computing the new map from the row it locked: a concurrent addNotCollected waits
    // for the row, and PostgreSQL then re-evaluates this SET on the committed version (no lost adds).
    // Keys keep their order: the existing ones first, then new tables in the order given.
    await this.run.query(
      `UPDATE machines SET not_collected = (
         SELECT COALESCE(json_object_agg(key, n ORDER BY pos), '{}'::json) FROM (
           SELECT key, SUM(n) AS n, MIN(pos) AS pos FROM (
             SELECT e.key, e.value::text::numeric AS n, e.pos FROM json_each(machines.not_collected) WITH ORDINALITY AS e(key, value, pos)
             UNION ALL
             SELECT u.key, u.n, 1e18 + u.pos FROM unnest($2::text[], $3::numeric[]) WITH ORDINALITY AS u(key, n, pos)
           ) AS parts GROUP BY key
         ) AS merged)
       WHERE agent_id = $1`,
      [agentId, entries.map(([k]) => k), entries.map(([, n]) => n)],
    );
  }

  async recordIdentityConflict(c: Omit<IdentityConflictRow, 'id'>): Promise<IdentityConflictRow> {
    const [r] = (await this.run.query(
      `INSERT INTO identity_conflicts (agent_id, detected_at, existing_facts, newcomer_facts, remote_address, differences)
       VALUES ($1, $2, $3::json, $4::json, $5, $6) RETURNING id`,
      [c.agentId, c.detectedAt, JSON.stringify(c.existingFacts), JSON.stringify(c.newcomerFacts), c.remoteAddress, c.differences.join(',')],
    )).rows;
    return { ...c, id: r!.id };
  }

  async listIdentityConflicts(agentId?: string): Promise<IdentityConflictRow[]> {
    return (await this.run.query(
      `SELECT * FROM identity_conflicts WHERE ($1::text IS NULL OR agent_id = $1) ORDER BY detected_at, id`, [agentId ?? null],
    )).rows.map((r) => ({
      id: r.id, agentId: r.agent_id, detectedAt: r.detected_at, existingFacts: r.existing_facts, newcomerFacts: r.newcomer_facts,
      remoteAddress: r.remote_address, differences: r.differences ? r.differences.split(',') : [],
    }));
  }

  async upsertConnector(c: ConnectorRow): Promise<void> {
    await this.run.query(
      `INSERT INTO connectors (name, provider, account_id, subscription, resource_group, location, config, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9)
       ON CONFLICT (name) DO UPDATE SET provider = EXCLUDED.provider, account_id = EXCLUDED.account_id,
         subscription = EXCLUDED.subscription, resource_group = EXCLUDED.resource_group, location = EXCLUDED.location,
         config = EXCLUDED.config, updated_at = EXCLUDED.updated_at`,
      [c.name, c.provider, c.accountId, c.subscription, c.resourceGroup, c.location, JSON.stringify(c.config), c.createdAt, c.updatedAt],
    );
  }

  async listSnapshotLog(connector: string): Promise<SnapshotLogRow[]> {
    return (await this.run.query(`SELECT * FROM cspm_snapshots WHERE connector = $1 ORDER BY id`, [connector])).rows.map((r) => ({
      connector: r.connector, kind: r.kind, source: r.source, takenAt: r.taken_at, resources: r.resources,
      added: r.added, changed: r.changed, deleted: r.deleted,
    }));
  }

  async setPlan(p: PlanRow): Promise<void> {
    await this.run.query(
      `INSERT INTO plans (scope_kind, scope, plan, sub_plan, enabled, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (scope_kind, scope, plan) DO UPDATE SET sub_plan = EXCLUDED.sub_plan, enabled = EXCLUDED.enabled,
         updated_at = EXCLUDED.updated_at`,
      [p.scopeKind, p.scope, p.plan, p.subPlan, p.enabled, p.updatedAt],
    );
  }

  async insertTestRun(r: TestRunRow): Promise<void> {
    // Replaced as a whole so a re-saved run never keeps stale cells. The run row is an upsert: it
    // takes the row lock, so two saves of one run id take turns and the cells deleted next are
    // the committed ones.
    await this.run.atomic(async (ops) => {
      await ops.run.query(
        `INSERT INTO test_runs (run_id, suite_name, started_at, finished_at, ok, summary, suite, result)
         VALUES ($1, $2, $3, $4, $5, $6::json, $7::json, $8::json)
         ON CONFLICT (run_id) DO UPDATE SET suite_name = EXCLUDED.suite_name, started_at = EXCLUDED.started_at,
           finished_at = EXCLUDED.finished_at, ok = EXCLUDED.ok, summary = EXCLUDED.summary, suite = EXCLUDED.suite, result = EXCLUDED.result`,
        [r.runId, r.suiteName, r.startedAt, r.finishedAt, r.ok, JSON.stringify(r.summary), JSON.stringify(r.suite), JSON.stringify(r.result)],
      );
      await ops.run.query(`DELETE FROM test_run_cells WHERE run_id = $1`, [r.runId]);
      if (r.cells.length === 0) return;
      await ops.run.query(
        `INSERT INTO test_run_cells (run_id, cell_id, row_id, host, status, reasons)
         SELECT $1, c, w, h, s, j::json FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(c, w, h, s, j)`,
        [r.runId, r.cells.map((c) => c.cellId), r.cells.map((c) => c.rowId), r.cells.map((c) => c.host), r.cells.map((c) => c.status),
          r.cells.map((c) => JSON.stringify(c.reasons))],
      );
    });
  }

  async listTestRuns(limit = 100): Promise<Array<Omit<TestRunRow, 'suite' | 'result' | 'cells'>>> {
    return (await this.run.query(
      `SELECT run_id, suite_name, started_at, finished_at, ok, summary FROM test_runs ORDER BY started_at DESC, run_id LIMIT $1`, [limit],
    )).rows.map((r) => ({ runId: r.run_id, suiteName: r.suite_name, startedAt: r.started_at, finishedAt: r.finished_at, ok: r.ok, summary: r.summary }));
  }

  async getTestRun(runId: string): Promise<TestRunRow | undefined> {
    // One statement (cells aggregated in), so the run and its cells come from one snapshot.
    const [r] = (await this.run.query(
      `SELECT r.*, COALESCE((SELECT json_agg(json_build_object('cellId', c.cell_id, 'rowId', c.row_id, 'host', c.host, 'status', c.status,
                'reasons', c.reasons) ORDER BY c.cell_id) FROM test_run_cells c WHERE c.run_id = r.run_id), '[]'::json) AS cells
       FROM test_runs r WHERE r.run_id = $1`,
      [runId],
    )).rows;
    return r && {
      runId: r.run_id, suiteName: r.suite_name, startedAt: r.started_at, finishedAt: r.finished_at, ok: r.ok,
      summary: r.summary, suite: r.suite, result: r.result, cells: r.cells,
    };
  }

  async listAlerts(f: AlertFilter = {}): Promise<AlertRow[]> {
    const w = new Where();
    if (f.severity) w.add('severity = ?', f.severity);
    if (f.status) w.add('status = ?', f.status);
    if (f.alertType) w.add('alert_type = ?', f.alertType);
    if (f.resourceId) w.add('resource_id = ?', f.resourceId);
    if (f.product) w.add('system_alert_id IN (SELECT system_alert_id FROM alert_copies WHERE product = ?)', f.product);
    if (f.detonationId) w.add('system_alert_id IN (SELECT system_alert_id FROM alert_events WHERE detonation_id = ?)', f.detonationId);
    return (await this.run.query(`SELECT * FROM alerts ${w.sql()} ORDER BY time_generated, system_alert_id`, w.args)).rows.map(toAlert);
  }

  async listIncidents(): Promise<IncidentRow[]> {
    return (await this.run.query(`SELECT * FROM incidents ORDER BY created_at, incident_id`)).rows.map(toIncident);
  }

  async listSyncAudit(f: { subject?: 'alert' | 'incident'; subjectId?: string } = {}): Promise<SyncAuditRow[]> {
    const w = new Where();
    if (f.subject) w.add('subject = ?', f.subject);
    if (f.subjectId) w.add('subject_id = ?', f.subjectId);
    return (await this.run.query(`SELECT * FROM sync_audit ${w.sql()} ORDER BY id`, w.args)).rows.map((r) => ({
      id: r.id, at: r.at, subject: r.subject, subjectId: r.subject_id, product: r.product, fromStatus: r.from_status,
      toStatus: r.to_status, originProduct: r.origin_product, viaProduct: r.via_product, reason: r.reason,
    }));
  }

  async alertEvents(id: string): Promise<Array<{ reportId: string; detonationId: string | null }>> {
    return (await this.run.query(`SELECT report_id, detonation_id FROM alert_events WHERE system_alert_id = $1 ORDER BY report_id`, [id]))
      .rows.map((r) => ({ reportId: r.report_id, detonationId: r.detonation_id }));
  }

  async countEvents(f: { agentId?: string; detonationId?: string } = {}): Promise<number> {
    const w = eventWhere(f);
    return Number((await this.run.query(`SELECT COUNT(*) AS n FROM events ${w.sql()}`, w.args)).rows[0]!.n);
  }

  async listEvents(f: { detonationId?: string; agentId?: string; limit?: number }): Promise<SensorEvent[]> {
    const w = eventWhere(f);
    const limit = w.param(f.limit ?? 10_000);
    // `data` is a json column: pg parses it, keys in the order they were written.
    return (await this.run.query(`SELECT data FROM events ${w.sql()} ORDER BY ts, report_id LIMIT ${limit}`, w.args)).rows.map((r) => r.data);
  }
}

/** Builds a WHERE clause with numbered parameters from `?` placeholders. */
class Where {
  readonly args: unknown[] = [];
  private readonly parts: string[] = [];
  add(condition: string, value: unknown): void {
    this.parts.push(condition.replace('?', () => this.param(value)));
  }
  raw(condition: string): void {
    this.parts.push(condition);
  }
  param(value: unknown): string {
    this.args.push(value);
    return `$${this.args.length}`;
  }
  sql(): string {
    return this.parts.length ? 'WHERE ' + this.parts.join(' AND ') : '';
  }
}

function eventWhere(f: { agentId?: string; detonationId?: string }): Where {
  const w = new Where();
  if (f.agentId) w.add('agent_id = ?', f.agentId);
  if (f.detonationId) w.add('detonation_id = ?', f.detonationId);
  return w;
}

function toMachine(r: Row): MachineRow {
  return {
    agentId: r.agent_id, resourceId: r.resource_id, name: r.name, facts: r.facts, sqlInstances: r.sql_instances, extensions: r.extensions,
    status: r.status, lastHeartbeat: r.last_heartbeat, lastStatusChange: r.last_status_change, registeredAt: r.registered_at,
    tags: r.tags ?? {}, notCollected: r.not_collected ?? {},
  };
}

function toConnector(r: Row): ConnectorRow {
  return {
    name: r.name, provider: r.provider, accountId: r.account_id, subscription: r.subscription, resourceGroup: r.resource_group,
    location: r.location, config: r.config, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** An asset's sources as one json column (`sources`), in the same order as SQLite reads them. */
const ASSET_SOURCES = `COALESCE((SELECT json_agg(json_build_object('kind', x.source_kind, 'id', x.source_id) ORDER BY x.source_kind, x.source_id)
  FROM asset_sources x WHERE x.asset_id = a.asset_id), '[]'::json) AS sources`;

function toAsset(r: Row): AssetRow {
  return {
    assetId: r.asset_id, assetKey: r.asset_key, confidence: r.confidence, conflicts: r.conflicts, reasons: r.reasons,
    updatedAt: r.updated_at, sources: r.sources,
  };
}

function toAlert(r: Row): AlertRow {
  return {
    systemAlertId: r.system_alert_id, dedupKey: r.dedup_key, latencyMs: r.latency_ms, alertType: r.alert_type, ruleId: r.rule_id,
    agentId: r.agent_id, resourceId: r.resource_id, severity: r.severity, status: r.status, count: r.count,
    startTime: r.start_time, endTime: r.end_time, timeGenerated: r.time_generated, updatedAt: r.updated_at,
    properties: r.properties,
  };
}

/**
 * BIGINT (int8) columns hold epoch milliseconds and ids, far below 2^53: return them as numbers,
 * like the SQLite store, instead of pg's default strings.
 */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (any libpq-style URL pg accepts). */
  connectionString: string;
  /** Pool size: concurrent transactions this replica may hold. */
  maxConnections?: number;
  /** How long to wait for a connection before failing, ms. */
  connectTimeoutMs?: number;
  /** Where idle-connection errors (e.g. the server restarting) are reported. */
  logger?: Logger;
}

const DEFAULTS = {
  maxConnections: 10,
  /** ms */
  connectTimeoutMs: 10_000,
};

/**
 * Opens the PostgreSQL store: a pg pool on `connectionString`, migrated at open (every pending
 * `migrations/postgres/NNN_*.sql` in one transaction, under an advisory lock so replicas starting
 * together migrate once). Any number of replicas may share one database: dedup and idempotency
 * are unique keys and upserts, and read-decide-write steps take transaction-scoped locks.
 * Fails with ARCSIM_E_STORE_UNAVAILABLE when the database cannot be reached or migrated.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? DEFAULTS.maxConnections,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    types: TYPES,
    application_name: 'arcsim-control-plane',
  });
  // Without a listener an idle client's error (server restart, network) would crash the process;
  // the pool drops that client and the next query gets a fresh one.
  pool.on('error', (err) => options.logger?.warn('postgres idle connection error', { error: err.message }));
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw protocolError('ARCSIM_E_STORE_UNAVAILABLE', `${describeUrl(options.connectionString)}: ${(err as Error).message}`);
  }

  const transaction = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await fn(new PgOps(clientRunner(client)));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        // A deadlock or serialization failure rolled everything back: run the whole unit again.
        if (RETRYABLE.has((err as { code?: string }).code ?? '') && attempt < MAX_ATTEMPTS && !broken) {
          await sleep(Math.random() * 20 * attempt);
          continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
  };

  const poolRunner: Runner = {
    inTransaction: false,
    query: (sql, params) => pool.query(sql, params),
    atomic: (fn) => transaction((tx) => fn(tx as PgOps)),
  };
  const ops = new PgStoreOps(poolRunner);
  let closed = false;
  return Object.assign(ops, {
    kind: 'postgres' as const,
    async migrations() {
      return (await pool.query(`SELECT version FROM schema_migrations ORDER BY version`)).rows.map((r) => r.version as number);
    },
    transaction,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  }) satisfies Store;
}

function clientRunner(client: pg.PoolClient): Runner {
  const runner: Runner = {
    inTransaction: true,
    query: (sql, params) => client.query(sql, params),
    // Already inside the caller's transaction: atomic with everything else it does.
    atomic: (fn) => fn(new PgOps(runner)),
  };
  return runner;
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Held until COMMIT: a second replica starting now waits here, then finds nothing to apply.
    await client.query(LOCK_SQL.migrations);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const applied = new Set((await client.query(`SELECT version FROM schema_migrations`)).rows.map((r) => r.version as number));
    for (const m of readMigrations(MIGRATIONS_DIR)) {
      if (applied.has(m.version)) continue;
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      await client.query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** `host:port/database` of a connection string, for messages; never the password. */
export function describeUrl(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    return `postgres at ${u.hostname || 'localhost'}:${u.port || '5432'}/${decodeURIComponent(u.pathname.slice(1)) || '(default database)'}`;
  } catch {
    return 'postgres (unparsable connection string)';
  }
}

/** The connection string with any password replaced by `***`, for logs and start-up messages. */
export function redactUrl(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable)';
  }
}
