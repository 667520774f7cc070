import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SensorEvent } from '../../protocol/index.ts';
import type {
  AgentRow, AlertCopyRow, AlertFilter, AlertRow, AlertSeverity, AlertSourceRow, AlertStatus, ArcStatus, AssessmentRow, AssetRow,
  ConnectorRow, CspmResourceRow, EntityKey, ExtensionRow, IncidentRow, MachineRow, PlanRow, RuleHit, SnapshotLogRow, Store, StoreTx,
  SyncAuditRow, TestRunRow, TokenRow, IdentityConflictRow,
} from './store.ts';
import { toCopy, toIncident, toToken } from './row-mappers.ts';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations', 'sqlite');

/** Reads `NNN_name.sql` files in version order. */
export function readMigrations(dir: string): Array<{ version: number; name: string; sql: string }> {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.split('_')[0]), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

type Row = Record<string, any>;

/** The synchronous statements; the async Store wraps them behind one serialising lock. */
class SqliteOps {
  private readonly stmt: Record<string, Database.Statement>;

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      insertEvent: p(`INSERT INTO events (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
                      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(report_id) DO NOTHING`),
      addHit: p(`INSERT INTO rule_hits (rule_id, group_key, event_time, report_id, detonation_id, value)
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      hits: p(`SELECT * FROM rule_hits WHERE rule_id = ? AND group_key = ? AND event_time BETWEEN ? AND ?
               ORDER BY event_time, report_id`),
      deleteHit: p(`DELETE FROM rule_hits WHERE rule_id = ? AND group_key = ? AND report_id = ?`),
      groupStarts: p(`SELECT group_key, MIN(event_time) AS first FROM rule_hits WHERE rule_id = ?
                      GROUP BY group_key HAVING MIN(event_time) <= ? ORDER BY first, group_key`),
      getEvent: p(`SELECT data FROM events WHERE report_id = ?`),
      pruneHits: p(`DELETE FROM rule_hits WHERE rule_id = ? AND group_key = ? AND event_time < ?`),
      // SET expressions see the old row: join the open alert when within the window, else replace it.
      claimDedup: p(`INSERT INTO alert_dedup (dedup_key, system_alert_id, last_time) VALUES (@key, @id, @time)
                     ON CONFLICT(dedup_key) DO UPDATE SET
                       system_alert_id = CASE WHEN ABS(excluded.last_time - alert_dedup.last_time) <= @window
                                              THEN alert_dedup.system_alert_id ELSE excluded.system_alert_id END,
                       last_time = CASE WHEN ABS(excluded.last_time - alert_dedup.last_time) <= @window
                                        THEN MAX(alert_dedup.last_time, excluded.last_time) ELSE excluded.last_time END
                     RETURNING system_alert_id`),
      insertAlert: p(`INSERT INTO alerts (system_alert_id, dedup_key, alert_type, rule_id, agent_id, resource_id, severity,
                        status, count, start_time, end_time, time_generated, updated_at, latency_ms, properties)
                      VALUES (@systemAlertId, @dedupKey, @alertType, @ruleId, @agentId, @resourceId, @severity,
                        @status, @count, @startTime, @endTime, @timeGenerated, @updatedAt, @latencyMs, @properties)
                      RETURNING *`),
      addOccurrence: p(`UPDATE alerts SET count = count + 1, start_time = MIN(start_time, ?), end_time = MAX(end_time, ?), updated_at = ?
                        WHERE system_alert_id = ? RETURNING *`),
      insertCopy: p(`INSERT INTO alert_copies (system_alert_id, product, copy_id, status, updated_at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT DO NOTHING`),
      copies: p(`SELECT * FROM alert_copies WHERE system_alert_id = ? ORDER BY product`),
      copiesById: p(`SELECT * FROM alert_copies WHERE copy_id = ? ORDER BY product`),
      setCopyStatus: p(`UPDATE alert_copies SET status = ?, updated_at = ? WHERE system_alert_id = ? AND product = ?`),
      setAlertStatus: p(`UPDATE alerts SET status = ?, updated_at = ? WHERE system_alert_id = ?`),
      addAudit: p(`INSERT INTO sync_audit (at, subject, subject_id, product, from_status, to_status, origin_product, via_product, reason)
                   VALUES (@at, @subject, @subjectId, @product, @fromStatus, @toStatus, @originProduct, @viaProduct, @reason)`),
      addEntity: p(`INSERT INTO alert_entities (system_alert_id, kind, value, time) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      insertIncident: p(`INSERT INTO incidents (incident_id, title, severity, status, sentinel_status, created_at, updated_at, first_activity, last_activity, redirected_to)
                         VALUES (@incidentId, @title, @severity, @status, @sentinelStatus, @createdAt, @updatedAt, @firstActivity, @lastActivity, @redirectedTo)`),
      addIncidentAlert: p(`INSERT INTO incident_alerts (incident_id, system_alert_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
      moveIncidentAlerts: p(`UPDATE incident_alerts SET incident_id = ? WHERE incident_id = ?`),
      redirectIncident: p(`UPDATE incidents SET status = 'Resolved', sentinel_status = CASE WHEN sentinel_status IS NULL THEN NULL ELSE 'Resolved' END,
                             redirected_to = ?, updated_at = ? WHERE incident_id = ?`),
      touchIncident: p(`UPDATE incidents SET severity = ?, last_activity = ?, first_activity = ?, updated_at = ? WHERE incident_id = ?`),
      getIncident: p(`SELECT * FROM incidents WHERE incident_id = ?`),
      incidentOf: p(`SELECT incident_id FROM incident_alerts WHERE system_alert_id = ?`),
      incidentAlertIds: p(`SELECT system_alert_id FROM incident_alerts WHERE incident_id = ? ORDER BY added_at, system_alert_id`),
      listIncidents: p(`SELECT * FROM incidents ORDER BY created_at, incident_id`),
      linkEvent: p(`INSERT INTO alert_events (system_alert_id, report_id, detonation_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
      getSetting: p(`SELECT value FROM settings WHERE key = ?`),
      setSetting: p(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      insertToken: p(`INSERT INTO enrollment_tokens (id, token_hash, subscription, resource_group, location, created_at, expires_at, revoked_at, uses)
                      VALUES (@id, @tokenHash, @subscription, @resourceGroup, @location, @createdAt, @expiresAt, @revokedAt, @uses)`),
      tokenByHash: p(`SELECT * FROM enrollment_tokens WHERE token_hash = ?`),
      listTokens: p(`SELECT * FROM enrollment_tokens ORDER BY created_at`),
      revokeToken: p(`UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
      useToken: p(`UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ?`),
      insertAgent: p(`INSERT INTO agents (agent_id, key_hash, token_id, subscription, resource_group, location, hostname, enrolled_at)
                      VALUES (@agentId, @keyHash, @tokenId, @subscription, @resourceGroup, @location, @hostname, @enrolledAt)`),
      getAgent: p(`SELECT * FROM agents WHERE agent_id = ?`),
      upsertMachine: p(`INSERT INTO machines (agent_id, resource_id, name, facts, sql_instances, extensions, status, last_heartbeat, last_status_change, registered_at)
                        VALUES (@agentId, @resourceId, @name, @facts, @sqlInstances, @extensions, @status, @lastHeartbeat, @lastStatusChange, @registeredAt)
                        ON CONFLICT(agent_id) DO UPDATE SET facts = excluded.facts, sql_instances = excluded.sql_instances,
                          extensions = excluded.extensions, last_heartbeat = excluded.last_heartbeat,
                          last_status_change = CASE WHEN machines.status = excluded.status THEN machines.last_status_change ELSE excluded.last_status_change END,
                          status = excluded.status`),
      getMachine: p(`SELECT * FROM machines WHERE agent_id = ?`),
      resourceTaken: p(`SELECT 1 FROM machines WHERE resource_id = ? AND agent_id <> ?`),
      listMachines: p(`SELECT * FROM machines ORDER BY registered_at, name`),
      heartbeat: p(`UPDATE machines SET last_heartbeat = MAX(last_heartbeat, ?) WHERE agent_id = ?`),
      setStatus: p(`UPDATE machines SET status = ?, last_status_change = ? WHERE agent_id = ? AND status <> ?`),
      setExtensions: p(`UPDATE machines SET extensions = ? WHERE agent_id = ?`),
      getNotCollected: p(`SELECT not_collected FROM machines WHERE agent_id = ?`),
      setNotCollected: p(`UPDATE machines SET not_collected = ? WHERE agent_id = ?`),
      insertConflict: p(`INSERT INTO identity_conflicts (agent_id, detected_at, existing_facts, newcomer_facts, remote_address, differences)
                         VALUES (?, ?, ?, ?, ?, ?)`),
      conflicts: p(`SELECT * FROM identity_conflicts WHERE (? IS NULL OR agent_id = ?) ORDER BY detected_at, id`),
      getAlert: p(`SELECT * FROM alerts WHERE system_alert_id = ?`),
      setTags: p(`UPDATE machines SET tags = ? WHERE agent_id = ?`),
      addAlertSource: p(`INSERT INTO alert_sources (system_alert_id, kind, resource_id, detail, first_time, last_time, count)
                         VALUES (@systemAlertId, @kind, @resourceId, @detail, @firstTime, @lastTime, @count)
                         ON CONFLICT (system_alert_id, kind, resource_id) DO UPDATE SET count = alert_sources.count + excluded.count,
                           first_time = CASE WHEN excluded.first_time < alert_sources.first_time THEN excluded.first_time ELSE alert_sources.first_time END,
                           last_time = CASE WHEN excluded.last_time > alert_sources.last_time THEN excluded.last_time ELSE alert_sources.last_time END`),
      alertSources: p(`SELECT * FROM alert_sources WHERE system_alert_id = ? ORDER BY kind, resource_id`),
      upsertConnector: p(`INSERT INTO connectors (name, provider, account_id, subscription, resource_group, location, config, created_at, updated_at)
                          VALUES (@name, @provider, @accountId, @subscription, @resourceGroup, @location, @config, @createdAt, @updatedAt)
                          ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, account_id = excluded.account_id,
                            subscription = excluded.subscription, resource_group = excluded.resource_group, location = excluded.location,
                            config = excluded.config, updated_at = excluded.updated_at`),
      getConnector: p(`SELECT * FROM connectors WHERE name = ?`),
      listConnectors: p(`SELECT * FROM connectors ORDER BY name`),
      upsertResource: p(`INSERT INTO cspm_resources (connector, kind, native_id, resource_id, name, region, state, data, first_seen, last_seen, deleted_at)
                         VALUES (@connector, @kind, @nativeId, @resourceId, @name, @region, @state, @data, @firstSeen, @lastSeen, @deletedAt)
                         ON CONFLICT (connector, kind, native_id) DO UPDATE SET resource_id = excluded.resource_id, name = excluded.name,
                           region = excluded.region, state = excluded.state, data = excluded.data, last_seen = excluded.last_seen,
                           deleted_at = excluded.deleted_at`),
      addSnapshot: p(`INSERT INTO cspm_snapshots (connector, kind, source, taken_at, resources, added, changed, deleted)
                      VALUES (@connector, @kind, @source, @takenAt, @resources, @added, @changed, @deleted)`),
      snapshots: p(`SELECT * FROM cspm_snapshots WHERE connector = ? ORDER BY id`),
      assetOf: p(`SELECT a.* FROM asset_sources s JOIN assets a ON a.asset_id = s.asset_id WHERE s.source_kind = ? AND s.source_id = ?`),
      listAssets: p(`SELECT * FROM assets ORDER BY asset_key`),
      allAssetSources: p(`SELECT * FROM asset_sources ORDER BY source_kind, source_id`),
      assetSources: p(`SELECT * FROM asset_sources WHERE asset_id = ? ORDER BY source_kind, source_id`),
      deleteAssets: p(`DELETE FROM assets`),
      deleteAssetSources: p(`DELETE FROM asset_sources`),
      insertAsset: p(`INSERT INTO assets (asset_id, asset_key, confidence, conflicts, reasons, updated_at)
                      VALUES (@assetId, @assetKey, @confidence, @conflicts, @reasons, @updatedAt)`),
      insertAssetSource: p(`INSERT INTO asset_sources (source_kind, source_id, asset_id) VALUES (?, ?, ?)`),
      setPlan: p(`INSERT INTO plans (scope_kind, scope, plan, sub_plan, enabled, updated_at)
                  VALUES (@scopeKind, @scope, @plan, @subPlan, @enabled, @updatedAt)
                  ON CONFLICT (scope_kind, scope, plan) DO UPDATE SET sub_plan = excluded.sub_plan, enabled = excluded.enabled,
                    updated_at = excluded.updated_at`),
      listPlans: p(`SELECT * FROM plans ORDER BY scope_kind, scope, plan`),
      listAssessments: p(`SELECT * FROM assessments ORDER BY assessment_key, resource_id`),
      upsertAssessment: p(`INSERT INTO assessments (assessment_key, resource_id, subscription, status, details, first_seen, status_changed)
                           VALUES (@assessmentKey, @resourceId, @subscription, @status, @details, @firstSeen, @statusChanged)
                           ON CONFLICT (assessment_key, resource_id) DO UPDATE SET subscription = excluded.subscription,
                             status = excluded.status, details = excluded.details, status_changed = excluded.status_changed`),
      deleteRunCells: p(`DELETE FROM test_run_cells WHERE run_id = ?`),
      deleteRun: p(`DELETE FROM test_runs WHERE run_id = ?`),
      insertRun: p(`INSERT INTO test_runs (run_id, suite_name, started_at, finished_at, ok, summary, suite, result)
                    VALUES (@runId, @suiteName, @startedAt, @finishedAt, @ok, @summary, @suite, @result)`),
      insertRunCell: p(`INSERT INTO test_run_cells (run_id, cell_id, row_id, host, status, reasons) VALUES (?, ?, ?, ?, ?, ?)`),
      listRuns: p(`SELECT run_id, suite_name, started_at, finished_at, ok, summary FROM test_runs ORDER BY started_at DESC, run_id LIMIT ?`),
      getRun: p(`SELECT * FROM test_runs WHERE run_id = ?`),
      runCells: p(`SELECT * FROM test_run_cells WHERE run_id = ? ORDER BY cell_id`),
      alertEvents: p(`SELECT report_id, detonation_id FROM alert_events WHERE system_alert_id = ? ORDER BY report_id`),
    };
  }

  insertEvents(agentId: string, events: SensorEvent[], receivedAt: number): SensorEvent[] {
    const fresh: SensorEvent[] = [];
    for (const e of events) {
      const r = this.stmt.insertEvent!.run(
        e.ReportId, agentId, e.Table, Date.parse(e.Timestamp), e.DetonationId ?? null, JSON.stringify(e), receivedAt,
      );
      if (r.changes === 1) fresh.push(e);
    }
    return fresh;
  }
  addRuleHit(h: RuleHit): void {
    this.stmt.addHit!.run(h.ruleId, h.groupKey, h.eventTime, h.reportId, h.detonationId, h.value);
  }
  ruleHits(ruleId: string, groupKey: string, from: number, to: number): RuleHit[] {
    return (this.stmt.hits!.all(ruleId, groupKey, from, to) as Row[]).map((r) => ({
      ruleId: r.rule_id, groupKey: r.group_key, eventTime: r.event_time, reportId: r.report_id, detonationId: r.detonation_id, value: r.value,
    }));
  }
  deleteRuleHits(ruleId: string, groupKey: string, reportIds: string[]): void {
    for (const id of reportIds) this.stmt.deleteHit!.run(ruleId, groupKey, id);
  }
  ruleGroupStarts(ruleId: string, before: number): Array<{ groupKey: string; first: number }> {
    return (this.stmt.groupStarts!.all(ruleId, before) as Row[]).map((r) => ({ groupKey: r.group_key, first: r.first }));
  }
  getEvents(reportIds: string[]): SensorEvent[] {
    return reportIds.flatMap((id) => {
      const r = this.stmt.getEvent!.get(id) as Row | undefined;
      return r ? [JSON.parse(r.data) as SensorEvent] : [];
    });
  }
  pruneRuleHits(ruleId: string, groupKey: string, before: number): void {
    this.stmt.pruneHits!.run(ruleId, groupKey, before);
  }
  upsertAlert(a: AlertRow, windowMs: number): { alert: AlertRow; created: boolean } {
    const owner = (this.stmt.claimDedup!.get({ key: a.dedupKey, id: a.systemAlertId, time: a.endTime, window: windowMs }) as Row).system_alert_id;
    if (owner === a.systemAlertId) {
      return { alert: toAlert(this.stmt.insertAlert!.get({ ...a, properties: JSON.stringify(a.properties) }) as Row), created: true };
    }
    return { alert: toAlert(this.stmt.addOccurrence!.get(a.startTime, a.endTime, a.updatedAt, owner) as Row), created: false };
  }
  insertAlertCopies(copies: AlertCopyRow[]): void {
    for (const c of copies) this.stmt.insertCopy!.run(c.systemAlertId, c.product, c.copyId, c.status, c.updatedAt);
  }
  alertCopies(id: string): AlertCopyRow[] {
    return (this.stmt.copies!.all(id) as Row[]).map(toCopy);
  }
  findAlertCopies(copyId: string): AlertCopyRow[] {
    return (this.stmt.copiesById!.all(copyId) as Row[]).map(toCopy);
  }
  setCopyStatus(id: string, product: string, status: AlertStatus, at: number): void {
    this.stmt.setCopyStatus!.run(status, at, id, product);
  }
  setAlertStatus(id: string, status: AlertStatus, at: number): void {
    this.stmt.setAlertStatus!.run(status, at, id);
  }
  addSyncAudit(r: SyncAuditRow): void {
    this.stmt.addAudit!.run({ ...r, viaProduct: r.viaProduct });
  }
  addAlertEntities(id: string, keys: EntityKey[], time: number): void {
    for (const k of keys) this.stmt.addEntity!.run(id, k.kind, k.value, time);
  }
  incidentsSharing(keys: EntityKey[], since: number): IncidentRow[] {
    if (keys.length === 0) return [];
    const pairs = keys.map(() => '(e.kind = ? AND e.value = ?)').join(' OR ');
    const sql = `SELECT DISTINCT i.* FROM incidents i
                 JOIN incident_alerts ia ON ia.incident_id = i.incident_id
                 JOIN alert_entities e ON e.system_alert_id = ia.system_alert_id
                 WHERE (${pairs}) AND e.time >= ? AND i.redirected_to IS NULL AND i.status NOT IN ('Resolved', 'Dismissed')
                 ORDER BY i.created_at, i.incident_id`;
    return (this.db.prepare(sql).all(...keys.flatMap((k) => [k.kind, k.value]), since) as Row[]).map(toIncident);
  }
  insertIncident(r: IncidentRow): void {
    this.stmt.insertIncident!.run(r);
  }
  addIncidentAlert(incidentId: string, alertId: string, at: number): void {
    this.stmt.addIncidentAlert!.run(incidentId, alertId, at);
  }
  mergeIncident(into: string, from: string, at: number): void {
    this.stmt.moveIncidentAlerts!.run(into, from);
    this.stmt.redirectIncident!.run(into, at, from);
  }
  touchIncident(id: string, p: { severity: AlertSeverity; lastActivity: number; firstActivity: number; updatedAt: number }): void {
    this.stmt.touchIncident!.run(p.severity, p.lastActivity, p.firstActivity, p.updatedAt, id);
  }
  setIncidentStatus(id: string, field: 'status' | 'sentinelStatus', status: AlertStatus, at: number): void {
    const column = field === 'status' ? 'status' : 'sentinel_status';
    this.db.prepare(`UPDATE incidents SET ${column} = ?, updated_at = ? WHERE incident_id = ?`).run(status, at, id);
  }
  getIncident(id: string): IncidentRow | undefined {
    const r = this.stmt.getIncident!.get(id) as Row | undefined;
    return r && toIncident(r);
  }
  incidentOfAlert(alertId: string): string | undefined {
    return (this.stmt.incidentOf!.get(alertId) as Row | undefined)?.incident_id;
  }
  incidentAlertIds(id: string): string[] {
    return (this.stmt.incidentAlertIds!.all(id) as Row[]).map((r) => r.system_alert_id);
  }
  listIncidents(): IncidentRow[] {
    return (this.stmt.listIncidents!.all() as Row[]).map(toIncident);
  }
  listSyncAudit(f: { subject?: 'alert' | 'incident'; subjectId?: string } = {}): SyncAuditRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.subject) { where.push('subject = ?'); args.push(f.subject); }
    if (f.subjectId) { where.push('subject_id = ?'); args.push(f.subjectId); }
    return (this.db.prepare(`SELECT * FROM sync_audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id`).all(...args) as Row[]).map((r) => ({
      id: r.id, at: r.at, subject: r.subject, subjectId: r.subject_id, product: r.product, fromStatus: r.from_status,
      toStatus: r.to_status, originProduct: r.origin_product, viaProduct: r.via_product, reason: r.reason,
    }));
  }
  linkAlertEvents(id: string, links: Array<{ reportId: string; detonationId: string | null }>): void {
    for (const l of links) this.stmt.linkEvent!.run(id, l.reportId, l.detonationId);
  }

  getSetting(key: string): string | undefined {
    return (this.stmt.getSetting!.get(key) as Row | undefined)?.value;
  }
  setSetting(key: string, value: string): void {
    this.stmt.setSetting!.run(key, value);
  }
  insertToken(t: TokenRow): void {
    this.stmt.insertToken!.run(t);
  }
  findTokenByHash(hash: string): TokenRow | undefined {
    const r = this.stmt.tokenByHash!.get(hash) as Row | undefined;
    return r && toToken(r);
  }
  listTokens(): TokenRow[] {
    return this.stmt.listTokens!.all().map((r) => toToken(r as Row));
  }
  revokeToken(id: string, at: number): boolean {
    return this.stmt.revokeToken!.run(at, id).changes === 1;
  }
  enrollAgent(a: AgentRow): void {
    this.stmt.insertAgent!.run(a);
    this.stmt.useToken!.run(a.tokenId);
  }
  getAgent(agentId: string): AgentRow | undefined {
    const r = this.stmt.getAgent!.get(agentId) as Row | undefined;
    return r && {
      agentId: r.agent_id, keyHash: r.key_hash, tokenId: r.token_id, subscription: r.subscription,
      resourceGroup: r.resource_group, location: r.location, hostname: r.hostname, enrolledAt: r.enrolled_at,
    };
  }
  upsertMachine(m: MachineRow): MachineRow {
    const { notCollected: _kept, ...row } = m; // counted separately (addNotCollected), never overwritten here
    this.stmt.upsertMachine!.run({
      ...row, facts: JSON.stringify(m.facts), sqlInstances: JSON.stringify(m.sqlInstances), extensions: JSON.stringify(m.extensions),
    });
    return this.getMachine(m.agentId)!;
  }
  getMachine(agentId: string): MachineRow | undefined {
    const r = this.stmt.getMachine!.get(agentId) as Row | undefined;
    return r && toMachine(r);
  }
  isResourceIdTaken(resourceId: string, exceptAgentId: string): boolean {
    return this.stmt.resourceTaken!.get(resourceId, exceptAgentId) !== undefined;
  }
  listMachines(): MachineRow[] {
    return this.stmt.listMachines!.all().map((r) => toMachine(r as Row));
  }
  recordHeartbeat(agentId: string, at: number): void {
    this.stmt.heartbeat!.run(at, agentId);
  }
  setMachineStatus(agentId: string, status: ArcStatus, at: number): boolean {
    return this.stmt.setStatus!.run(status, at, agentId, status).changes === 1;
  }
  setMachineExtensions(agentId: string, extensions: ExtensionRow[]): void {
    this.stmt.setExtensions!.run(JSON.stringify(extensions), agentId);
  }
  setMachineTags(agentId: string, tags: Record<string, string>): void {
    this.stmt.setTags!.run(JSON.stringify(tags), agentId);
  }
  addAlertSource(r: AlertSourceRow): void {
    this.stmt.addAlertSource!.run(r);
  }
  alertSources(id: string): AlertSourceRow[] {
    return (this.stmt.alertSources!.all(id) as Row[]).map((r) => ({
      systemAlertId: r.system_alert_id, kind: r.kind, resourceId: r.resource_id, detail: r.detail,
      firstTime: r.first_time, lastTime: r.last_time, count: r.count,
    }));
  }
  upsertConnector(c: ConnectorRow): void {
    this.stmt.upsertConnector!.run({ ...c, config: JSON.stringify(c.config) });
  }
  getConnector(name: string): ConnectorRow | undefined {
    const r = this.stmt.getConnector!.get(name) as Row | undefined;
    return r && toConnector(r);
  }
  listConnectors(): ConnectorRow[] {
    return (this.stmt.listConnectors!.all() as Row[]).map(toConnector);
  }
  listCspmResources(f: { connector?: string; kind?: string; includeDeleted?: boolean } = {}): CspmResourceRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.connector) { where.push('connector = ?'); args.push(f.connector); }
    if (f.kind) { where.push('kind = ?'); args.push(f.kind); }
    if (!f.includeDeleted) where.push('deleted_at IS NULL');
    const sql = `SELECT * FROM cspm_resources ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY connector, kind, native_id`;
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => ({
      connector: r.connector, kind: r.kind, nativeId: r.native_id, resourceId: r.resource_id, name: r.name, region: r.region,
      state: r.state, data: JSON.parse(r.data), firstSeen: r.first_seen, lastSeen: r.last_seen, deletedAt: r.deleted_at,
    }));
  }
  upsertCspmResource(r: CspmResourceRow): void {
    this.stmt.upsertResource!.run({ ...r, data: JSON.stringify(r.data) });
  }
  addSnapshotLog(r: SnapshotLogRow): void {
    this.stmt.addSnapshot!.run(r);
  }
  listSnapshotLog(connector: string): SnapshotLogRow[] {
    return (this.stmt.snapshots!.all(connector) as Row[]).map((r) => ({
      connector: r.connector, kind: r.kind, source: r.source, takenAt: r.taken_at, resources: r.resources,
      added: r.added, changed: r.changed, deleted: r.deleted,
    }));
  }
  assetOfSource(kind: 'arc' | 'cspm', sourceId: string): AssetRow | undefined {
    const r = this.stmt.assetOf!.get(kind, sourceId) as Row | undefined;
    return r && toAsset(r, this.stmt.assetSources!.all(r.asset_id) as Row[]);
  }
  listAssets(): AssetRow[] {
    const sources = new Map<string, Row[]>();
    for (const s of this.stmt.allAssetSources!.all() as Row[]) {
      const list = sources.get(s.asset_id) ?? [];
      list.push(s);
      sources.set(s.asset_id, list);
    }
    return (this.stmt.listAssets!.all() as Row[]).map((r) => toAsset(r, sources.get(r.asset_id) ?? []));
  }
  replaceAssets(assets: AssetRow[]): void {
    // Atomic when called on the store directly too (a savepoint inside a caller's transaction).
    this.db.transaction(() => {
      this.stmt.deleteAssetSources!.run();
      this.stmt.deleteAssets!.run();
      for (const a of assets) {
        this.stmt.insertAsset!.run({ ...a, conflicts: JSON.stringify(a.conflicts), reasons: JSON.stringify(a.reasons) });
        for (const s of a.sources) this.stmt.insertAssetSource!.run(s.kind, s.id, a.assetId);
      }
    })();
  }
  setPlan(p: PlanRow): void {
    this.stmt.setPlan!.run({ ...p, enabled: p.enabled ? 1 : 0 });
  }
  listPlans(): PlanRow[] {
    return (this.stmt.listPlans!.all() as Row[]).map((r) => ({
      scopeKind: r.scope_kind, scope: r.scope, plan: r.plan, subPlan: r.sub_plan, enabled: r.enabled === 1, updatedAt: r.updated_at,
    }));
  }
  listAssessments(): AssessmentRow[] {
    return (this.stmt.listAssessments!.all() as Row[]).map((r) => ({
      assessmentKey: r.assessment_key, resourceId: r.resource_id, subscription: r.subscription, status: r.status,
      details: JSON.parse(r.details), firstSeen: r.first_seen, statusChanged: r.status_changed,
    }));
  }
  upsertAssessment(a: AssessmentRow): void {
    this.stmt.upsertAssessment!.run({ ...a, details: JSON.stringify(a.details) });
  }
  addNotCollected(agentId: string, counts: Record<string, number>): void {
    const r = this.stmt.getNotCollected!.get(agentId) as Row | undefined;
    if (!r) return;
    const total: Record<string, number> = JSON.parse(r.not_collected);
    for (const [table, n] of Object.entries(counts)) total[table] = (total[table] ?? 0) + n;
    this.stmt.setNotCollected!.run(JSON.stringify(total), agentId);
  }
  recordIdentityConflict(c: Omit<IdentityConflictRow, 'id'>): IdentityConflictRow {
    const r = this.stmt.insertConflict!.run(
      c.agentId, c.detectedAt, JSON.stringify(c.existingFacts), JSON.stringify(c.newcomerFacts), c.remoteAddress, c.differences.join(','),
    );
    return { ...c, id: Number(r.lastInsertRowid) };
  }
  listIdentityConflicts(agentId?: string): IdentityConflictRow[] {
    return (this.stmt.conflicts!.all(agentId ?? null, agentId ?? null) as Row[]).map((r) => ({
      id: r.id, agentId: r.agent_id, detectedAt: r.detected_at, existingFacts: JSON.parse(r.existing_facts),
      newcomerFacts: JSON.parse(r.newcomer_facts), remoteAddress: r.remote_address, differences: r.differences ? r.differences.split(',') : [],
    }));
  }
  listAlerts(f: AlertFilter = {}): AlertRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.severity) { where.push('severity = ?'); args.push(f.severity); }
    if (f.status) { where.push('status = ?'); args.push(f.status); }
    if (f.alertType) { where.push('alert_type = ?'); args.push(f.alertType); }
    if (f.resourceId) { where.push('resource_id = ?'); args.push(f.resourceId); }
    if (f.product) { where.push('system_alert_id IN (SELECT system_alert_id FROM alert_copies WHERE product = ?)'); args.push(f.product); }
    if (f.detonationId) {
      where.push('system_alert_id IN (SELECT system_alert_id FROM alert_events WHERE detonation_id = ?)');
      args.push(f.detonationId);
    }
    const sql = `SELECT * FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY time_generated, system_alert_id`;
    return this.db.prepare(sql).all(...args).map((r) => toAlert(r as Row));
  }
  getAlert(id: string): AlertRow | undefined {
    const r = this.stmt.getAlert!.get(id) as Row | undefined;
    return r && toAlert(r);
  }
  alertEvents(id: string): Array<{ reportId: string; detonationId: string | null }> {
    return (this.stmt.alertEvents!.all(id) as Row[]).map((r) => ({ reportId: r.report_id, detonationId: r.detonation_id }));
  }
  insertTestRun(r: TestRunRow): void {
    // Replace as a whole (delete + insert) so a re-saved run never keeps stale cells; portable SQL.
    this.db.transaction(() => {
      this.stmt.deleteRunCells!.run(r.runId);
      this.stmt.deleteRun!.run(r.runId);
      this.stmt.insertRun!.run({
        runId: r.runId, suiteName: r.suiteName, startedAt: r.startedAt, finishedAt: r.finishedAt, ok: r.ok ? 1 : 0,
        summary: JSON.stringify(r.summary), suite: JSON.stringify(r.suite), result: JSON.stringify(r.result),
      });
      for (const c of r.cells) this.stmt.insertRunCell!.run(r.runId, c.cellId, c.rowId, c.host, c.status, JSON.stringify(c.reasons));
    })();
  }
  listTestRuns(limit = 100): Array<Omit<TestRunRow, 'suite' | 'result' | 'cells'>> {
    return (this.stmt.listRuns!.all(limit) as Row[]).map((r) => ({
      runId: r.run_id, suiteName: r.suite_name, startedAt: r.started_at, finishedAt: r.finished_at, ok: r.ok === 1, summary: JSON.parse(r.summary),
    }));
  }
  getTestRun(runId: string): TestRunRow | undefined {
    const r = this.stmt.getRun!.get(runId) as Row | undefined;
    if (!r) return undefined;
    const cells = (this.stmt.runCells!.all(runId) as Row[]).map((c) => ({
      cellId: c.cell_id, rowId: c.row_id, host: c.host, status: c.status, reasons: JSON.parse(c.reasons),
    }));
    return {
      runId: r.run_id, suiteName: r.suite_name, startedAt: r.started_at, finishedAt: r.finished_at, ok: r.ok === 1,
      summary: JSON.parse(r.summary), suite: JSON.parse(r.suite), result: JSON.parse(r.result), cells,
    };
  }
  countEvents(f: { agentId?: string; detonationId?: string } = {}): number {
    const { sql, args } = eventWhere(f);
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM events ${sql}`).get(...args) as Row).n;
  }
  listEvents(f: { detonationId?: string; agentId?: string; limit?: number }): SensorEvent[] {
    const { sql, args } = eventWhere(f);
    return this.db
      .prepare(`SELECT data FROM events ${sql} ORDER BY ts, report_id LIMIT ?`)
      .all(...args, f.limit ?? 10_000)
      .map((r) => JSON.parse((r as Row).data));
  }
}

function eventWhere(f: { agentId?: string; detonationId?: string }): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.agentId) { where.push('agent_id = ?'); args.push(f.agentId); }
  if (f.detonationId) { where.push('detonation_id = ?'); args.push(f.detonationId); }
  return { sql: where.length ? 'WHERE ' + where.join(' AND ') : '', args };
}

function toMachine(r: Row): MachineRow {
  return {
    agentId: r.agent_id, resourceId: r.resource_id, name: r.name, facts: JSON.parse(r.facts),
    sqlInstances: JSON.parse(r.sql_instances), extensions: JSON.parse(r.extensions), status: r.status,
    lastHeartbeat: r.last_heartbeat, lastStatusChange: r.last_status_change, registeredAt: r.registered_at,
    tags: JSON.parse(r.tags ?? '{}'),
    notCollected: JSON.parse(r.not_collected ?? '{}'),
  };
}

function toConnector(r: Row): ConnectorRow {
  return {
    name: r.name, provider: r.provider, accountId: r.account_id, subscription: r.subscription, resourceGroup: r.resource_group,
    location: r.location, config: JSON.parse(r.config), createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

function toAsset(r: Row, sources: Row[]): AssetRow {
  return {
    assetId: r.asset_id, assetKey: r.asset_key, confidence: r.confidence, conflicts: JSON.parse(r.conflicts),
    reasons: JSON.parse(r.reasons), updatedAt: r.updated_at,
    sources: sources.map((s) => ({ kind: s.source_kind, id: s.source_id })),
  };
}

function toAlert(r: Row): AlertRow {
  return {
    systemAlertId: r.system_alert_id, dedupKey: r.dedup_key, latencyMs: r.latency_ms, alertType: r.alert_type, ruleId: r.rule_id,
    agentId: r.agent_id, resourceId: r.resource_id, severity: r.severity, status: r.status, count: r.count,
    startTime: r.start_time, endTime: r.end_time, timeGenerated: r.time_generated, updatedAt: r.updated_at,
    properties: JSON.parse(r.properties),
  };
}

/** Serialises async work: one transaction (or one statement) at a time on the single connection. */
class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Exposes every method of `ops` as an async method run through `wrap`. */
function asyncView<T extends object>(ops: T, wrap: <R>(fn: () => R) => Promise<R>): any {
  return new Proxy(ops, {
    get(target, prop) {
      const value = (target as any)[prop];
      return typeof value === 'function' ? (...args: unknown[]) => wrap(() => value.apply(target, args)) : value;
    },
  });
}

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for throwaway stores. Its directory is created if missing. */
  file: string;
}

/**
 * Opens (and migrates) the embedded SQLite store: WAL journal, foreign keys on, NORMAL sync
 * (durable across process crashes; the last transactions may roll back on power loss).
 */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
  const db = new Database(options.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  const ops = new SqliteOps(db);
  const lock = new Lock();
  // Inside a transaction the lock is already held: call the statements directly.
  const txView: StoreTx = asyncView(ops, async (fn) => fn());
  const outer = asyncView(ops, (fn) => lock.run(fn));

  const store: Store = Object.assign(Object.create(outer), {
    kind: 'sqlite' as const,
    async migrations() {
      return lock.run(() => (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Row[]).map((r) => r.version));
    },
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      return lock.run(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(txView);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      });
    },
    async close() {
      await lock.run(() => db.close());
    },
  });
  return store;
}

function migrate(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => r.version));
  for (const m of readMigrations(MIGRATIONS_DIR)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
}
