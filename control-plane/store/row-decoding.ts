import type { SensorEvent } from '../../protocol/index.ts';
import type {
  AgentRow, AlertCopyRow, AlertRow, AlertSourceRow, AssessmentRow, AssetRow, ConnectorRow, CspmResourceRow, IdentityConflictRow,
  IncidentRow, MachineRow, ApiKeyRow, AuditRow, PlanRow, RuleHit, SnapshotLogRow, SyncAuditRow, TestRunRow, TokenRow,
} from './store.ts';

/**
 * Column rows -> store rows, for both backends. The executors hand rows over in one shape: BIGINT
 * as numbers (the pg executor's type parser) and JSON columns as JSON text (SQLite stores text;
 * the pg executor leaves json unparsed), so every JSON column is parsed here and nowhere else.
 * Booleans are the one column type that still differs (SQLite 0/1, PostgreSQL true/false).
 */
type Json = string;
type Bool = boolean | number;

const json = <T>(text: Json): T => JSON.parse(text) as T;
const bool = (v: Bool): boolean => v === true || v === 1;

export interface TokenCols {
  id: string; token_hash: string; subscription: string; resource_group: string; location: string;
  created_at: number; expires_at: number; revoked_at: number | null; uses: number; max_uses: number | null;
}
export const toToken = (r: TokenCols): TokenRow => ({
  id: r.id, tokenHash: r.token_hash, subscription: r.subscription, resourceGroup: r.resource_group, location: r.location,
  createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, uses: r.uses, maxUses: r.max_uses ?? null,
});

export interface AgentCols {
  agent_id: string; key_hash: string; token_id: string; subscription: string; resource_group: string; location: string;
  hostname: string | null; enrolled_at: number; revoked_at: number | null; revoked_reason: string | null; pending_key_hash: string | null;
}
export const toAgent = (r: AgentCols): AgentRow => ({
  agentId: r.agent_id, keyHash: r.key_hash, tokenId: r.token_id, subscription: r.subscription,
  resourceGroup: r.resource_group, location: r.location, hostname: r.hostname, enrolledAt: r.enrolled_at,
  revokedAt: r.revoked_at ?? null, revokedReason: r.revoked_reason ?? null, pendingKeyHash: r.pending_key_hash ?? null,
});

export interface MachineCols {
  agent_id: string; resource_id: string; name: string; facts: Json; sql_instances: Json; extensions: Json;
  status: MachineRow['status']; last_heartbeat: number; last_status_change: number; registered_at: number;
  tags: Json | null; not_collected: Json | null; dropped_events?: number | string | null;
}
export const toMachine = (r: MachineCols): MachineRow => ({
  agentId: r.agent_id, resourceId: r.resource_id, name: r.name, facts: json(r.facts), sqlInstances: json(r.sql_instances),
  extensions: json(r.extensions), status: r.status, lastHeartbeat: r.last_heartbeat, lastStatusChange: r.last_status_change,
  registeredAt: r.registered_at, tags: json(r.tags ?? '{}'), notCollected: json(r.not_collected ?? '{}'),
  droppedEvents: Number(r.dropped_events ?? 0),
});

export interface ConflictCols {
  id: number; agent_id: string; detected_at: number; existing_facts: Json; newcomer_facts: Json;
  remote_address: string | null; differences: string | null;
}
export const toConflict = (r: ConflictCols): IdentityConflictRow => ({
  id: r.id, agentId: r.agent_id, detectedAt: r.detected_at, existingFacts: json(r.existing_facts), newcomerFacts: json(r.newcomer_facts),
  remoteAddress: r.remote_address, differences: r.differences ? r.differences.split(',') : [],
});

export interface EventDataCols { report_id: string; data: Json }
export const toEvent = (r: Pick<EventDataCols, 'data'>): SensorEvent => json(r.data);

export interface RuleHitCols {
  rule_id: string; group_key: string; event_time: number; report_id: string; detonation_id: string | null; value: string | null;
}
export const toRuleHit = (r: RuleHitCols): RuleHit => ({
  ruleId: r.rule_id, groupKey: r.group_key, eventTime: r.event_time, reportId: r.report_id, detonationId: r.detonation_id, value: r.value,
});

export interface AlertCols {
  system_alert_id: string; dedup_key: string; alert_type: string; rule_id: string; agent_id: string; resource_id: string;
  severity: AlertRow['severity']; status: AlertRow['status']; count: number; start_time: number; end_time: number;
  time_generated: number; updated_at: number; latency_ms: number | null; properties: Json;
}
export const toAlert = (r: AlertCols): AlertRow => ({
  systemAlertId: r.system_alert_id, dedupKey: r.dedup_key, latencyMs: r.latency_ms, alertType: r.alert_type, ruleId: r.rule_id,
  agentId: r.agent_id, resourceId: r.resource_id, severity: r.severity, status: r.status, count: r.count,
  startTime: r.start_time, endTime: r.end_time, timeGenerated: r.time_generated, updatedAt: r.updated_at,
  properties: json(r.properties),
});

export interface CopyCols { system_alert_id: string; product: string; copy_id: string; status: AlertCopyRow['status']; updated_at: number }
export const toCopy = (r: CopyCols): AlertCopyRow => ({
  systemAlertId: r.system_alert_id, product: r.product, copyId: r.copy_id, status: r.status, updatedAt: r.updated_at,
});

export interface AlertSourceCols {
  system_alert_id: string; kind: AlertSourceRow['kind']; resource_id: string; detail: string; first_time: number; last_time: number; count: number;
}
export const toAlertSource = (r: AlertSourceCols): AlertSourceRow => ({
  systemAlertId: r.system_alert_id, kind: r.kind, resourceId: r.resource_id, detail: r.detail,
  firstTime: r.first_time, lastTime: r.last_time, count: r.count,
});

export interface AlertEventCols { report_id: string; detonation_id: string | null }
export const toAlertEvent = (r: AlertEventCols): { reportId: string; detonationId: string | null } => ({
  reportId: r.report_id, detonationId: r.detonation_id,
});

export interface SyncAuditCols {
  id: number; at: number; subject: SyncAuditRow['subject']; subject_id: string; product: string; from_status: string;
  to_status: string; origin_product: string; via_product: string | null; reason: string; field?: string;
}
export const toSyncAudit = (r: SyncAuditCols): SyncAuditRow => ({
  id: r.id, at: r.at, subject: r.subject, subjectId: r.subject_id, product: r.product, fromStatus: r.from_status,
  toStatus: r.to_status, originProduct: r.origin_product, viaProduct: r.via_product, reason: r.reason,
  ...(r.field && r.field !== 'status' ? { field: r.field as SyncAuditRow['field'] } : {}),
});

export interface IncidentCols {
  incident_id: string; title: string; severity: IncidentRow['severity']; status: IncidentRow['status'];
  sentinel_status: IncidentRow['sentinelStatus']; created_at: number; updated_at: number; first_activity: number;
  last_activity: number; redirected_to: string | null; classification?: string; determination?: string; assigned_to?: string | null;
}
export const toIncident = (r: IncidentCols): IncidentRow => ({
  incidentId: r.incident_id, title: r.title, severity: r.severity, status: r.status, sentinelStatus: r.sentinel_status,
  createdAt: r.created_at, updatedAt: r.updated_at, firstActivity: r.first_activity, lastActivity: r.last_activity,
  redirectedTo: r.redirected_to, classification: r.classification ?? 'unknown', determination: r.determination ?? 'unknown',
  assignedTo: r.assigned_to ?? null,
});

export interface ConnectorCols {
  name: string; provider: ConnectorRow['provider']; account_id: string; subscription: string; resource_group: string;
  location: string; config: Json; created_at: number; updated_at: number;
}
export const toConnector = (r: ConnectorCols): ConnectorRow => ({
  name: r.name, provider: r.provider, accountId: r.account_id, subscription: r.subscription, resourceGroup: r.resource_group,
  location: r.location, config: json(r.config), createdAt: r.created_at, updatedAt: r.updated_at,
});

export interface CspmResourceCols {
  connector: string; kind: string; native_id: string; resource_id: string; name: string; region: string; state: string;
  data: Json; first_seen: number; last_seen: number; deleted_at: number | null;
}
export const toCspmResource = (r: CspmResourceCols): CspmResourceRow => ({
  connector: r.connector, kind: r.kind, nativeId: r.native_id, resourceId: r.resource_id, name: r.name, region: r.region,
  state: r.state, data: json(r.data), firstSeen: r.first_seen, lastSeen: r.last_seen, deletedAt: r.deleted_at,
});

export interface SnapshotCols {
  connector: string; kind: string; source: string; taken_at: number; resources: number; added: number; changed: number; deleted: number;
}
export const toSnapshot = (r: SnapshotCols): SnapshotLogRow => ({
  connector: r.connector, kind: r.kind, source: r.source, takenAt: r.taken_at, resources: r.resources,
  added: r.added, changed: r.changed, deleted: r.deleted,
});

/** An asset row with its sources aggregated into one JSON column, `sources`. */
export interface AssetCols {
  asset_id: string; asset_key: string; confidence: AssetRow['confidence']; conflicts: Json; reasons: Json; updated_at: number; sources: Json;
}
export const toAsset = (r: AssetCols): AssetRow => ({
  assetId: r.asset_id, assetKey: r.asset_key, confidence: r.confidence, conflicts: json(r.conflicts), reasons: json(r.reasons),
  updatedAt: r.updated_at, sources: json(r.sources),
});

export interface PlanCols {
  scope_kind: PlanRow['scopeKind']; scope: string; plan: string; sub_plan: string | null; enabled: Bool; updated_at: number;
}
export const toPlan = (r: PlanCols): PlanRow => ({
  scopeKind: r.scope_kind, scope: r.scope, plan: r.plan, subPlan: r.sub_plan, enabled: bool(r.enabled), updatedAt: r.updated_at,
});

export interface AssessmentCols {
  assessment_key: string; resource_id: string; subscription: string; status: AssessmentRow['status']; details: Json;
  first_seen: number; status_changed: number;
}
export const toAssessment = (r: AssessmentCols): AssessmentRow => ({
  assessmentKey: r.assessment_key, resourceId: r.resource_id, subscription: r.subscription, status: r.status,
  details: json(r.details), firstSeen: r.first_seen, statusChanged: r.status_changed,
});

export interface TestRunSummaryCols {
  run_id: string; suite_name: string; started_at: number; finished_at: number; ok: Bool; summary: Json;
}
export const toTestRunSummary = (r: TestRunSummaryCols): Omit<TestRunRow, 'suite' | 'result' | 'cells'> => ({
  runId: r.run_id, suiteName: r.suite_name, startedAt: r.started_at, finishedAt: r.finished_at, ok: bool(r.ok), summary: json(r.summary),
});

/** A run with its cells aggregated into one JSON column, `cells`. */
export interface TestRunCols extends TestRunSummaryCols { suite: Json; result: Json; cells: Json }
export const toTestRun = (r: TestRunCols): TestRunRow => ({
  ...toTestRunSummary(r), suite: json(r.suite), result: json(r.result), cells: json(r.cells),
});

/** `true`/`false` as both backends bind it (better-sqlite3 binds no booleans; PostgreSQL reads '1'/'0' as boolean). */
export const bit = (b: boolean): number => (b ? 1 : 0);

export interface ApiKeyCols {
  id: string; name: string; role: ApiKeyRow['role']; key_hash: string; created_at: number; created_by: string; revoked_at: number | null; last_used_at: number | null;
}
export const toApiKey = (r: ApiKeyCols): ApiKeyRow => ({
  id: r.id, name: r.name, role: r.role, keyHash: r.key_hash, createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at,
});

export interface AuditCols {
  id: number; at: number; who: string; key_id: string | null; role: string | null; method: string; route: string; target: string; status: number; remote: string | null;
}
export const toAudit = (r: AuditCols): AuditRow => ({
  id: r.id, at: r.at, who: r.who, keyId: r.key_id, role: r.role, method: r.method, route: r.route, target: r.target, status: r.status, remote: r.remote,
});
