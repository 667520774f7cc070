import type { MachineFacts, SensorEvent, SqlInstanceFacts } from '../../protocol/index.ts';
import type { EventRows } from './event-rows.ts';

export type { EventRows } from './event-rows.ts';

/** Rows as the store keeps them; times are epoch milliseconds. */
export interface TokenRow {
  id: string;
  tokenHash: string;
  subscription: string;
  resourceGroup: string;
  location: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  uses: number;
  /** Most enrollments the token allows; null = no limit. */
  maxUses: number | null;
}

export interface AgentRow {
  agentId: string;
  keyHash: string;
  tokenId: string;
  subscription: string;
  resourceGroup: string;
  location: string;
  hostname: string | null;
  enrolledAt: number;
  /** When the agent's key was revoked (the agent is refused at the upgrade); null while it is valid. */
  revokedAt?: number | null;
  /** Why: `revoked`, `token revoked`, `machine deleted`, `deregistered`. */
  revokedReason?: string | null;
  /** Hash of a key being rotated in (sent, not yet acknowledged by the agent). */
  pendingKeyHash?: string | null;
}

/** A stored API key (only its hash); `role` is one of auth/roles.ts ROLES. */
export interface ApiKeyRow {
  id: string;
  name: string;
  role: 'reader' | 'responder' | 'contributor' | 'admin';
  keyHash: string;
  createdAt: number;
  /** Who created it (the caller's name). */
  createdBy: string;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** One API request that changes state, allowed or refused. */
export interface AuditRow {
  id: number;
  at: number;
  /** The key's name, `admin`, `process`, or `unknown` when no valid key was shown. */
  who: string;
  keyId: string | null;
  role: string | null;
  method: string;
  /** The route pattern (`/api/keys/:id`), or the path when no route matched. */
  route: string;
  /** The request path. */
  target: string;
  status: number;
  remote: string | null;
}

export type ArcStatus = 'Connected' | 'Disconnected' | 'Expired' | 'Error';

export interface ExtensionRow {
  name: string;
  publisher?: string;
  status: 'Succeeded' | 'Creating' | 'Deleting' | 'Failed' | 'Disabled';
}

export interface IdentityConflictRow {
  id: number;
  agentId: string;
  detectedAt: number;
  existingFacts: MachineFacts;
  newcomerFacts: MachineFacts;
  remoteAddress: string | null;
  /** Facts that told the two hosts apart: `hostname`, `vmUuid`, `macAddresses`. */
  differences: string[];
}

export interface MachineRow {
  agentId: string;
  resourceId: string;
  name: string;
  facts: MachineFacts;
  sqlInstances: SqlInstanceFacts[];
  extensions: ExtensionRow[];
  status: ArcStatus;
  lastHeartbeat: number;
  lastStatusChange: number;
  registeredAt: number;
  /** ARM tags (MDC writes AccountId/InstanceId/MDFCSecurityConnector/... on machines it onboards). */
  tags?: Record<string, string>;
  /** Per table, events produced on this machine that no installed extension collected. */
  notCollected?: Record<string, number>;
  /** Events the agent's spool dropped because it was full (its total, as the last heartbeat said). */
  droppedEvents?: number;
}

/** A CSPM connector: one AWS account or GCP project, living in a subscription + resource group. */
export interface ConnectorRow {
  name: string;
  provider: 'AWS' | 'GCP';
  /** AWS account id or GCP project id. */
  accountId: string;
  subscription: string;
  resourceGroup: string;
  location: string;
  /** The full definition as given (project number, default region, pull schedule, ...). */
  config: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface CspmResourceRow {
  connector: string;
  kind: string;
  nativeId: string;
  resourceId: string;
  name: string;
  region: string;
  state: string;
  data: Record<string, unknown>;
  firstSeen: number;
  lastSeen: number;
  /** Set when a later snapshot of its kind no longer had it. */
  deletedAt: number | null;
}

export interface SnapshotLogRow {
  connector: string;
  kind: string;
  source: string;
  takenAt: number;
  resources: number;
  added: number;
  changed: number;
  deleted: number;
}

export interface AssetConflict {
  kind: string;
  message: string;
  sources: string[];
}

export interface AssetRow {
  assetId: string;
  assetKey: string;
  confidence: 'single' | 'strong' | 'probable';
  conflicts: AssetConflict[];
  reasons: string[];
  updatedAt: number;
  sources: Array<{ kind: 'arc' | 'cspm'; id: string }>;
}

/** A page of the inventory: the portal's filters (all optional), sort and window. */
export interface AssetPageQuery {
  /** Has a source of this kind: an Arc machine, or a CSPM resource of an AWS / GCP connector. */
  source?: 'Arc' | 'AWS' | 'GCP';
  /** One of its clouds: a machine's provider (`On-premises` for none), a resource's connector's. */
  cloud?: string;
  /** Its (first) Arc machine's status; `none`: no Arc machine. */
  arcStatus?: string;
  confidence?: string;
  /** Case-insensitive text in its name or any source's name or resource id. */
  search?: string;
  sort: 'name' | 'confidence' | 'arcStatus' | 'cloud' | 'sources';
  dir: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export interface PlanRow {
  scopeKind: 'subscription' | 'connector';
  scope: string;
  plan: string;
  subPlan: string | null;
  enabled: boolean;
  updatedAt: number;
}

export interface AssessmentRow {
  assessmentKey: string;
  resourceId: string;
  subscription: string;
  status: 'Healthy' | 'Unhealthy';
  details: Record<string, unknown>;
  firstSeen: number;
  statusChanged: number;
}

/** Assessments of one recommendation in one subscription with one status and applicability. */
export interface AssessmentCount {
  assessmentKey: string;
  subscription: string;
  status: AssessmentRow['status'];
  /** details.notApplicable: the resource is out of the recommendation's scope (no score weight). */
  notApplicable: boolean;
  count: number;
}

export interface AlertSourceRow {
  systemAlertId: string;
  kind: 'agent' | 'cspm';
  resourceId: string;
  /** Detecting product (agent path) or connector name (CSPM path). */
  detail: string;
  firstTime: number;
  lastTime: number;
  count: number;
}

export interface RuleHit {
  ruleId: string;
  groupKey: string;
  eventTime: number;
  reportId: string;
  detonationId: string | null;
  /** The value a `value_count` correlation counts distinct occurrences of. */
  value: string | null;
}

/** One correlation window's key: a correlation rule and one group of its group-by values. */
export interface RuleGroup {
  ruleId: string;
  groupKey: string;
}

export type AlertSeverity = 'Informational' | 'Low' | 'Medium' | 'High';
export type AlertStatus = 'Active' | 'InProgress' | 'Resolved' | 'Dismissed';

export interface AlertRow {
  systemAlertId: string;
  dedupKey: string;
  alertType: string;
  ruleId: string;
  agentId: string;
  resourceId: string;
  severity: AlertSeverity;
  status: AlertStatus;
  count: number;
  startTime: number;
  endTime: number;
  timeGenerated: number;
  updatedAt: number;
  /** Event arrival to alert committed (readable through the API), ms; first occurrence. */
  latencyMs: number | null;
  /** The rest of the MDC alert properties (display name, intent, entities, ...). */
  properties: Record<string, unknown>;
}

export interface AlertCopyRow {
  systemAlertId: string;
  product: string;
  copyId: string;
  status: AlertStatus;
  updatedAt: number;
}

export interface SyncAuditRow {
  id?: number;
  at: number;
  subject: 'alert' | 'incident';
  subjectId: string;
  product: string;
  fromStatus: string;
  toStatus: string;
  originProduct: string;
  viaProduct: string | null;
  reason: string;
  /** What changed: 'status' (the default) or an incident's triage field (classification, determination, assignedTo). */
  field?: 'status' | IncidentTriageField;
}

export interface IncidentRow {
  incidentId: string;
  title: string;
  severity: AlertSeverity;
  status: AlertStatus;
  sentinelStatus: AlertStatus | null;
  createdAt: number;
  updatedAt: number;
  firstActivity: number;
  lastActivity: number;
  redirectedTo: string | null;
  /** Triage (migration 024): Graph `alertClassification` / `alertDetermination` members, 'unknown' until set. */
  classification?: string;
  determination?: string;
  /** The owner, free text; null when unassigned. */
  assignedTo?: string | null;
}

/** The incident fields a responder sets besides its status (Defender XDR's "Manage incident"). */
export type IncidentTriageField = 'classification' | 'determination' | 'assignedTo';
export type IncidentTriage = Partial<{ classification: string; determination: string; assignedTo: string | null }>;

export interface EntityKey {
  kind: 'asset' | 'account' | 'ip';
  value: string;
}

export interface AlertFilter {
  severity?: AlertSeverity;
  status?: AlertStatus;
  alertType?: string;
  detonationId?: string;
  resourceId?: string;
  /** Only alerts with a copy in this product view. */
  product?: string;
}

/** Sort keys of the alert list (the MDC alerts blade's columns); `time` is the last activity. */
export const ALERT_SORTS = ['time', 'severity', 'status', 'name', 'count'] as const;
export type AlertSort = (typeof ALERT_SORTS)[number];

/** One page of the alert list: filters (all optional, AND-ed), a sort and a window. */
export interface AlertPageQuery {
  /** One severity or any of several. */
  severity?: AlertSeverity | AlertSeverity[];
  /** With `product`, that product's status of its copy; else the detection's status. */
  status?: AlertStatus | AlertStatus[];
  alertType?: string;
  resourceId?: string;
  /** Only alerts shown in this product view (MDC / MDE / M365D / Sentinel). */
  product?: string;
  /** Machine name: alerts whose resource id ends in `/machines/{name}`. */
  machine?: string;
  /** Only alerts last active (end time) in [from, to], ms. */
  from?: number;
  to?: number;
  /** Display name, alert type or compromised entity contains this text (ASCII case ignored). */
  search?: string;
  sort?: AlertSort;
  dir?: 'asc' | 'desc';
  limit: number;
  offset: number;
}

/** A page of alerts, with how many match in all; `viewStatus` is the product copy's status when a product was asked. */
export interface AlertPage {
  rows: Array<AlertRow & { viewStatus?: AlertStatus; viewId?: string }>;
  total: number;
}

export interface IncidentPageQuery {
  status?: AlertStatus[];
  severity?: AlertSeverity[];
  /** Merged-away incidents too (hidden by default, as in the M365D queue). */
  redirected?: boolean;
  /** Owned by this name; `null` for the unassigned ones. */
  assignedTo?: string | null;
  classification?: string[];
  sort?: 'created' | 'lastActivity' | 'severity';
  dir?: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export interface IncidentPage {
  rows: Array<IncidentRow & { alertCount: number }>;
  total: number;
}

/** A hunting query saved by one API key name. */
export interface SavedQueryRow {
  owner: string;
  name: string;
  query: string;
  createdAt: number;
  updatedAt: number;
}

/** The portal's device timeline: one agent's events, newest first, keyset-paged. */
export interface TimelineQuery {
  agentId: string;
  table?: string;
  actionType?: string;
  from?: number;
  to?: number;
  /** Only events strictly older than this (ts, then ReportId): the last row of the previous page. */
  before?: { ts: number; reportId: string };
  limit: number;
}

/** One alert change in the outbox sinks carry (written in the transaction of the change). */
export interface AlertChangeRow {
  /** Increasing id; a sink's idempotency key is built from it. */
  id: number;
  systemAlertId: string;
  change: 'created' | 'status';
  /** The alert's status after the change. */
  status: AlertStatus;
  at: number;
}

/** A stored multi-cloud test run (issue #7); the JSON columns are opaque to the store. */
export interface TestRunRow {
  runId: string;
  suiteName: string;
  startedAt: number;
  finishedAt: number;
  ok: boolean;
  summary: Record<string, unknown>;
  suite: Record<string, unknown>;
  result: Record<string, unknown>;
  cells: Array<{ cellId: string; rowId: string; host: string; status: string; reasons: string[] }>;
}

/*
 * The store's surface, one repository interface per domain. Each is implemented once
 * (repositories/), over an executor that runs it on SQLite or PostgreSQL.
 */

/** Enrollment tokens and the agents enrolled with them. */
export interface AgentsRepository {
  insertToken(token: TokenRow): Promise<void>;
  findTokenByHash(tokenHash: string): Promise<TokenRow | undefined>;
  listTokens(): Promise<TokenRow[]>;
  /**
   * Revokes a token; with `cascade` also revokes every agent enrolled with it (even when the token
   * was revoked before). `missing`: no such token; `already`: it was revoked before (agents as cascaded).
   */
  revokeToken(id: string, at: number, options?: { cascade?: boolean }): Promise<{ outcome: 'revoked' | 'already' | 'missing'; agentIds: string[] }>;
  /**
   * Counts one use of the agent's token and creates the agent, atomically; false (nothing created)
   * when the token is revoked, expired at `now` or has no use left. The count is one conditional
   * UPDATE on the token's row, so concurrent enrollments never exceed the limit, on either backend.
   */
  enrollAgent(agent: AgentRow, now: number): Promise<boolean>;
  getAgent(agentId: string): Promise<AgentRow | undefined>;
  /** Revokes an agent's key (and any key being rotated in); false when there is no such valid agent. */
  revokeAgent(agentId: string, at: number, reason: string): Promise<boolean>;
  /** Records the hash of a key being rotated in (replacing an earlier unacknowledged one). */
  setPendingKey(agentId: string, keyHash: string): Promise<void>;
  /** The pending key becomes the agent's only key (the old one stops working); false when `keyHash` is not pending. */
  promoteKey(agentId: string, keyHash: string): Promise<boolean>;
}

/** Arc machines: registration, heartbeats, status, extensions, identity conflicts. */
export interface MachinesRepository {
  /** Creates or replaces the agent's machine; the resource id stays what it was first given. */
  upsertMachine(machine: MachineRow): Promise<MachineRow>;
  getMachine(agentId: string): Promise<MachineRow | undefined>;
  listMachines(): Promise<MachineRow[]>;
  /**
   * The machines, neither Error nor Expired, heard from last at or before `expireFrom`, or Connected
   * and heard from last before `disconnectBefore` (ms); only the columns a status sweep needs, in
   * listMachines' order. A pre-filter: the caller still applies its rule to each row.
   */
  listSilentMachines(disconnectBefore: number, expireFrom: number): Promise<Array<Pick<MachineRow, 'agentId' | 'status' | 'lastHeartbeat'>>>;
  isResourceIdTaken(resourceId: string, exceptAgentId: string): Promise<boolean>;
  /** Deletes the agent's machine (with its SQL instances and extensions); alerts and events stay. False when there was none. */
  deleteMachine(agentId: string): Promise<boolean>;
  /** Records a heartbeat at `at` (never moving it back) and, when given, the agent's spool drop total. */
  recordHeartbeat(agentId: string, at: number, droppedEvents?: number): Promise<void>;
  /**
   * Records many heartbeats in one transaction (each as recordHeartbeat) and turns their machines
   * Connected (status change at the heartbeat's time); resolves to the agents whose machine was not
   * Connected before.
   */
  recordHeartbeats(rows: ReadonlyArray<{ agentId: string; at: number; droppedEvents?: number }>): Promise<string[]>;
  /** Sets the status (and lastStatusChange) when it differs; true when it changed. */
  setMachineStatus(agentId: string, status: ArcStatus, at: number): Promise<boolean>;
  setMachineExtensions(agentId: string, extensions: ExtensionRow[]): Promise<void>;
  setMachineTags(agentId: string, tags: Record<string, string>): Promise<void>;
  /** The machines with these resource ids (unknown ids are left out). */
  machinesByResourceIds(resourceIds: string[]): Promise<MachineRow[]>;
  /** Adds per-table counts of events that were not collected. */
  addNotCollected(agentId: string, counts: Record<string, number>): Promise<void>;
  recordIdentityConflict(conflict: Omit<IdentityConflictRow, 'id'>): Promise<IdentityConflictRow>;
  listIdentityConflicts(agentId?: string): Promise<IdentityConflictRow[]>;
}

/**
 * What a KQL query asks of the stored events (control-plane/query pushes its leading `where`s
 * down): one table, a time range on `Timestamp` (ms, inclusive), and equality with one of a few
 * values on `DeviceId` (the agent id: indexed), `DeviceName` or `ActionType`, and string columns
 * holding a text, case-insensitively (ASCII), as a coarse first pass for `has` / `contains`. At
 * most `limit`. The query engine applies its own filters again: a scan may return more, never less.
 */
export interface EventScan {
  table: string;
  from?: number;
  to?: number;
  equals?: Array<{ column: 'DeviceId' | 'DeviceName' | 'ActionType'; values: string[] }>;
  /** String columns (by name, `[A-Za-z]+`) that contain `text`, ignoring ASCII case. */
  contains?: Array<{ column: string; text: string }>;
  limit: number;
}

/** Sensor events and the detection state over them (correlation rule hits). */
export interface EventsRepository {
  /** Stores events keyed by ReportId; returns only those not stored before (redeliveries dropped). */
  insertEvents(agentId: string, events: SensorEvent[], receivedAt: number): Promise<SensorEvent[]>;
  /** The same for a batch already in column form (EventRows); returns the indexes of the rows not stored before, ascending. */
  insertEventRows(agentId: string, rows: EventRows, receivedAt: number): Promise<number[]>;
  /** Stored events by ReportId (those that exist), in the order asked. */
  getEvents(reportIds: string[]): Promise<SensorEvent[]>;
  countEvents(filter?: { agentId?: string; detonationId?: string }): Promise<number>;
  listEvents(filter: { detonationId?: string; agentId?: string; limit?: number }): Promise<SensorEvent[]>;
  /** Events of one table for a KQL query (see EventScan), newest first. */
  scanEvents(scan: EventScan): Promise<SensorEvent[]>;
  /** A machine's events for the device timeline (see TimelineQuery), newest first. */
  deviceTimeline(q: TimelineQuery): Promise<SensorEvent[]>;
  /** The newest `limit` stored DeviceFileCertificateInfo rows (by event time), oldest first. */
  latestFileCertificates(limit: number): Promise<SensorEvent[]>;
  addRuleHit(hit: RuleHit): Promise<void>;
  /** Hits of `ruleId` for `groupKey` with `from <= eventTime <= to`, oldest first. */
  ruleHits(ruleId: string, groupKey: string, from: number, to: number): Promise<RuleHit[]>;
  deleteRuleHits(ruleId: string, groupKey: string, reportIds: string[]): Promise<void>;
  /** Groups of `ruleId` whose earliest hit is at or before `before`, with that time, oldest first. */
  ruleGroupStarts(ruleId: string, before: number): Promise<Array<{ groupKey: string; first: number }>>;
  /** Drops a group's hits older than `before` (they can no longer fall in any window). */
  pruneRuleHits(ruleId: string, groupKey: string, before: number): Promise<void>;
  /**
   * Takes the transaction-scoped lock of each group, in the given order, in one statement, before
   * its hits are read and changed (PostgreSQL: the advisory lock replicas share; SQLite: nothing,
   * its one connection runs one transaction at a time).
   */
  lockRuleGroups(keys: readonly RuleGroup[]): Promise<void>;
  /** Every hit of these groups, in one statement (any order). */
  ruleGroupHits(keys: readonly RuleGroup[]): Promise<RuleHit[]>;
  /** Deletes `removed` (by rule, group and reportId), then inserts `added` (ignoring existing keys): one statement each on PostgreSQL. */
  writeRuleHits(removed: ReadonlyArray<Pick<RuleHit, 'ruleId' | 'groupKey' | 'reportId'>>, added: readonly RuleHit[]): Promise<void>;
}

/** Alerts, their product copies, sources, entities and linked events. */
export interface AlertsRepository {
  /**
   * Inserts the alert, or — when its dedup key has an alert whose last occurrence is within
   * `windowMs` of this one — adds one occurrence to that alert (count + 1, first/last time
   * widened). The choice is one upsert on the dedup key's unique row, so concurrent
   * control-plane replicas always agree on a single alert.
   */
  upsertAlert(candidate: AlertRow, windowMs: number): Promise<{ alert: AlertRow; created: boolean; lastTime: number }>;
  /**
   * Writes occurrences already folded (in memory, inside the same transaction, by the rule of
   * upsertAlert) into the alert that owns `dedupKey`: count + `count`, first/last time widened,
   * `updatedAt`, and the dedup key's last occurrence time set to `lastTime`. `lastTime` is
   * what upsertAlert's claim would have left after those occurrences one by one.
   */
  foldOccurrences(f: { systemAlertId: string; dedupKey: string; count: number; startTime: number; endTime: number; updatedAt: number; lastTime: number }): Promise<void>;
  getAlert(systemAlertId: string): Promise<AlertRow | undefined>;
  listAlerts(filter?: AlertFilter): Promise<AlertRow[]>;
  /** One page of a filtered, sorted alert list and the total count, by indexed queries (migration 021). */
  pageAlerts(query: AlertPageQuery): Promise<AlertPage>;
  /** Sets the status; a real change also writes the sinks' outbox row (same transaction). */
  setAlertStatus(systemAlertId: string, status: AlertStatus, at: number): Promise<void>;
  /** Merges triage fields (Graph classification, determination, assignedTo; null clears) into the properties; false when there is no such alert. */
  setAlertTriage(systemAlertId: string, fields: Record<string, string | null>, at: number): Promise<boolean>;
  /** Alerts naming one of `keys` (asset, account, ip) at or after `since` (alert time). */
  alertsSharing(keys: EntityKey[], since: number): Promise<AlertRow[]>;
  /** Merges top-level properties (a JSON merge patch: null removes) into the alert's properties; false when there is no such alert. */
  mergeAlertProperties(systemAlertId: string, patch: Record<string, unknown>, at: number): Promise<boolean>;
  linkAlertEvents(systemAlertId: string, links: Array<{ reportId: string; detonationId: string | null }>): Promise<void>;
  alertEvents(systemAlertId: string): Promise<Array<{ reportId: string; detonationId: string | null }>>;
  insertAlertCopies(copies: AlertCopyRow[]): Promise<void>;
  alertCopies(systemAlertId: string): Promise<AlertCopyRow[]>;
  /** The copy with this id (a product's own alert id), in any product. */
  findAlertCopies(copyId: string): Promise<AlertCopyRow[]>;
  setCopyStatus(systemAlertId: string, product: string, status: AlertStatus, at: number): Promise<void>;
  /** Adds one arrival of an alert by a detection path (counted per path and resource). */
  addAlertSource(row: AlertSourceRow): Promise<void>;
  alertSources(systemAlertId: string): Promise<AlertSourceRow[]>;
  addAlertEntities(systemAlertId: string, keys: EntityKey[], time: number): Promise<void>;
  /** One page of alerts in the query's order, and how many match in all (two indexed queries, no full read). */
  pageAlerts(q: AlertPageQuery): Promise<{ rows: AlertRow[]; total: number }>;
  /** Alerts per severity and time bucket (by time generated, `bucketMs` wide, from `from`), for the overview chart. */
  alertCountsOverTime(from: number, bucketMs: number): Promise<Array<{ bucket: number; severity: AlertSeverity; count: number }>>;
  /** How many alerts there are per (severity, status), optionally of these resource ids. */
  alertCounts(resourceIds?: string[]): Promise<Array<{ severity: AlertSeverity; status: AlertStatus; count: number }>>;
}

/** Incidents: alerts correlated by shared entities. */
export interface IncidentsRepository {
  /** Open (not resolved, not redirected) incidents holding an alert that names one of `keys` at or after `since`. */
  incidentsSharing(keys: EntityKey[], since: number): Promise<IncidentRow[]>;
  insertIncident(row: IncidentRow): Promise<void>;
  addIncidentAlert(incidentId: string, systemAlertId: string, at: number): Promise<void>;
  /** Moves every alert of `from` into `into`; `from` is closed and marked redirected. */
  mergeIncident(into: string, from: string, at: number): Promise<void>;
  touchIncident(incidentId: string, patch: { severity: AlertSeverity; lastActivity: number; firstActivity: number; updatedAt: number }): Promise<void>;
  setIncidentStatus(incidentId: string, field: 'status' | 'sentinelStatus', status: AlertStatus, at: number): Promise<void>;
  /** Sets the given triage fields (the others keep their value); false when there is no such incident. */
  setIncidentTriage(incidentId: string, triage: IncidentTriage, at: number): Promise<boolean>;
  getIncident(incidentId: string): Promise<IncidentRow | undefined>;
  incidentOfAlert(systemAlertId: string): Promise<string | undefined>;
  incidentAlertIds(incidentId: string): Promise<string[]>;
  /** Severity and time span of each alert of an incident (what refreshIncident aggregates), in one query. */
  incidentAlertSpans(incidentId: string): Promise<Array<{ severity: AlertSeverity; startTime: number; endTime: number }>>;
  listIncidents(): Promise<IncidentRow[]>;
  /** One page of the incident queue (newest first by default) and the total count. */
  pageIncidents(query: IncidentPageQuery): Promise<IncidentPage>;
  /** The `limit` incidents with the latest activity (redirected ones left out), newest first. */
  recentIncidents(limit: number): Promise<IncidentRow[]>;
}

/** One change the portal's live feed shows: an alert created, or a status set in a product (alert or incident). */
export interface LiveChange {
  /** `alert:<outbox id>` or `status:<sync audit id>`. */
  source: 'alert' | 'status';
  id: number;
  at: number;
  subject: 'alert' | 'incident';
  subjectId: string;
  /** For status changes: the product view and the new status. */
  product?: string;
  status: string;
  /** For an incident's triage change: the field (the new value is `status`); absent for a status. */
  field?: IncidentTriageField;
}

/** Where a live feed has read up to (the highest ids seen). */
export interface LiveCursor {
  alert: number;
  status: number;
}

/** The portal's own data: saved hunting queries (per API key name) and the live feed's reads. */
export interface PortalRepository {
  /** The newest change ids now (a live feed starts after them). */
  liveCursor(): Promise<LiveCursor>;
  /** New alerts and status changes after the cursor (at most `limit` of each source), and the cursor to ask from next. */
  liveChanges(after: LiveCursor, limit: number): Promise<{ changes: LiveChange[]; cursor: LiveCursor }>;
  /** Creates or replaces `owner`'s query called `name`. */
  saveQuery(row: SavedQueryRow): Promise<void>;
  listQueries(owner: string): Promise<SavedQueryRow[]>;
  /** False when there was no such query. */
  deleteQuery(owner: string, name: string): Promise<boolean>;
}

/** CSPM connectors and resources, the merged asset inventory, plans and assessments. */
export interface InventoryRepository {
  upsertConnector(row: ConnectorRow): Promise<void>;
  getConnector(name: string): Promise<ConnectorRow | undefined>;
  listConnectors(): Promise<ConnectorRow[]>;
  listCspmResources(filter?: { connector?: string; kind?: string; includeDeleted?: boolean }): Promise<CspmResourceRow[]>;
  /** Inserts or replaces a resource by (connector, kind, nativeId); first_seen is kept. */
  upsertCspmResource(row: CspmResourceRow): Promise<void>;
  addSnapshotLog(row: SnapshotLogRow): Promise<void>;
  listSnapshotLog(connector: string): Promise<SnapshotLogRow[]>;
  /** The asset a source (Arc machine or CSPM resource, by resource id) belongs to. */
  assetOfSource(kind: 'arc' | 'cspm', sourceId: string): Promise<AssetRow | undefined>;
  /** Only the key of that asset: one indexed lookup, for ingest (every batch needs it, nothing else of the asset). */
  assetKeyOfSource(kind: 'arc' | 'cspm', sourceId: string): Promise<string | undefined>;
  listAssets(): Promise<AssetRow[]>;
  /**
   * One page of the merged inventory as the portal shows it (filters AND-ed, one sort, ties by
   * name then asset key), how many assets pass the filters (`total`) and how many are stored (`all`).
   */
  pageAssets(query: AssetPageQuery): Promise<{ rows: AssetRow[]; total: number; all: number }>;
  /** Replaces the merge result with `assets` (rows whose content did not change keep their updatedAt). */
  replaceAssets(assets: AssetRow[]): Promise<void>;
  /** CSPM resources (deleted ones included) with these resource ids. */
  cspmResourcesByResourceIds(resourceIds: string[]): Promise<CspmResourceRow[]>;
  /**
   * The items (Arc machines, CSPM instances, by resource id) holding any of these merge keys
   * (control-plane/store/merge-keys.ts). Keys are written with each machine and instance.
   */
  mergeItemsWithKeys(keys: string[]): Promise<Array<{ kind: 'arc' | 'cspm'; id: string }>>;
  /** Replaces the whole merge_keys table (a full recomputation rebuilds it). */
  replaceMergeKeys(items: Array<{ kind: 'arc' | 'cspm'; id: string; keys: string[] }>): Promise<void>;
  /** The assets holding any of these sources; takes the assets lock like listAssets. */
  assetsOfSources(sources: Array<{ kind: 'arc' | 'cspm'; id: string }>): Promise<AssetRow[]>;
  /** Part of the merge: deletes the assets `previousAssetIds` (and any with the new ids), stores `assets`. */
  replaceAssetsOf(previousAssetIds: string[], assets: AssetRow[]): Promise<void>;
  /** The assessments of these resource ids. */
  listAssessmentsFor(resourceIds: string[]): Promise<AssessmentRow[]>;
  setPlan(row: PlanRow): Promise<void>;
  listPlans(): Promise<PlanRow[]>;
  listAssessments(): Promise<AssessmentRow[]>;
  /** How many assessments per recommendation, subscription, status and applicability (grouped in SQL). */
  assessmentCounts(): Promise<AssessmentCount[]>;
  /** Of each recommendation in `keys`, its unhealthy applicable resources `offset`..`offset + limit` by resource id. */
  unhealthyAssessments(keys: string[], page: { offset: number; limit: number }): Promise<AssessmentRow[]>;
  upsertAssessment(row: AssessmentRow): Promise<void>;
}

/** Stored multi-cloud test runs. */
export interface RunsRepository {
  /** Stores a test run and its cells (a run id is stored once; storing it again replaces it). */
  insertTestRun(run: TestRunRow): Promise<void>;
  /** Newest first, without suite and result bodies. */
  listTestRuns(limit?: number): Promise<Array<Omit<TestRunRow, 'suite' | 'result' | 'cells'>>>;
  /** One page of the stored runs in listTestRuns' order (newest first, then id), and how many are stored. */
  pageTestRuns(page: { offset: number; limit: number }): Promise<{ rows: Array<Omit<TestRunRow, 'suite' | 'result' | 'cells'>>; total: number }>;
  getTestRun(runId: string): Promise<TestRunRow | undefined>;
}

/** Key-value settings and the status-sync audit trail. */
export interface SettingsRepository {
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /**
   * Sets `key` only when it has no value yet; true when this call set it. One statement (the
   * primary key decides), so of replicas racing on one database exactly one gets true.
   */
  addSetting(key: string, value: string): Promise<boolean>;
  addSyncAudit(row: SyncAuditRow): Promise<void>;
  listSyncAudit(filter?: { subject?: 'alert' | 'incident'; subjectId?: string }): Promise<SyncAuditRow[]>;
}

/**
 * The outbox of alert changes for the sinks (syslog, webhooks). `alerts.upsertAlert` (a new alert)
 * and `alerts.setAlertStatus` write a change row in their own transaction; each sink reads what it
 * has not delivered and records each delivery, so delivery is at-least-once across restarts.
 */
export interface SinksRepository {
  /** The last outbox id before the sink was first seen (recorded then; later calls return the same). */
  sinkStart(sink: string, now: number): Promise<number>;
  /** Changes after `startAfter` the sink has not delivered, oldest first. */
  pendingChanges(sink: string, startAfter: number, limit: number): Promise<AlertChangeRow[]>;
  /** Records these changes as delivered by the sink (one statement; a change recorded before stays as it was). */
  markDelivered(sink: string, changeIds: number[], at: number, attempts: number): Promise<void>;
  /** How many changes wait for the sink, and when the oldest was made (null when none). */
  backlog(sink: string, startAfter: number): Promise<{ pending: number; oldestAt: number | null }>;
}

/** One OSV advisory as stored (control-plane/vulnerabilities/osv.ts's Advisory in `body`). */
export interface AdvisoryRow {
  id: string;
  /** The record's `modified` (RFC 3339). */
  modified: string;
  importedAt: number;
  body: Record<string, unknown>;
}

/** Advisory feeds (OSV) loaded by `arcsim vuln import`. */
export interface VulnerabilitiesRepository {
  /**
   * Stores advisories in one transaction, each with the packages it affects; an advisory already
   * held with the same or a newer `modified` is left as it is (counted `unchanged`).
   */
  putAdvisories(rows: AdvisoryRow[], affected: (row: AdvisoryRow) => Array<{ ecosystem: string; name: string }>): Promise<{ stored: number; unchanged: number }>;
  /** Advisories affecting any of these packages of one ecosystem, by id. */
  advisoriesFor(ecosystem: string, names: string[]): Promise<AdvisoryRow[]>;
  countAdvisories(): Promise<number>;
}

/** API keys with roles, and the audit log of every write. */
export interface KeysRepository {
  insertKey(key: ApiKeyRow): Promise<void>;
  /** The key with this hash, revoked or not. */
  findKeyByHash(keyHash: string): Promise<ApiKeyRow | undefined>;
  listKeys(): Promise<ApiKeyRow[]>;
  /** Marks the key revoked; false when there is no such key or it was revoked already. */
  revokeKey(id: string, at: number): Promise<boolean>;
  touchKey(id: string, at: number): Promise<void>;
  addAudit(row: Omit<AuditRow, 'id'>): Promise<void>;
  /** Newest first: at most `limit` rows with an id below `before` (when given). */
  listAudit(page: { limit: number; before?: number }): Promise<AuditRow[]>;
}

/**
 * The repositories inside one transaction: ingest a batch, evaluate rules, upsert alerts. Each
 * offers only what that work needs (no listings for the portal, no test runs).
 */
export interface StoreTx {
  readonly agents: Pick<AgentsRepository, 'getAgent'>;
  readonly machines: Pick<MachinesRepository, 'getMachine' | 'listMachines' | 'machinesByResourceIds' | 'setMachineExtensions' | 'isResourceIdTaken' | 'upsertMachine'>;
  readonly events: Omit<EventsRepository, 'countEvents' | 'listEvents' | 'latestFileCertificates' | 'deviceTimeline'>;
  readonly alerts: Omit<AlertsRepository, 'listAlerts' | 'alertEvents' | 'pageAlerts' | 'alertCountsOverTime' | 'alertCounts'>;
  readonly incidents: Omit<IncidentsRepository, 'listIncidents' | 'recentIncidents' | 'pageIncidents'>;
  readonly inventory: Omit<InventoryRepository, 'upsertConnector' | 'listSnapshotLog' | 'setPlan'>;
  readonly settings: Pick<SettingsRepository, 'addSyncAudit'>;
}

/**
 * Everything the control plane keeps, one repository per domain (`store.alerts.upsertAlert`).
 * Async so SQLite and PostgreSQL share it; idempotency and dedup live in the database (unique
 * keys), never only in process memory.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly agents: AgentsRepository;
  readonly machines: MachinesRepository;
  readonly events: EventsRepository;
  readonly alerts: AlertsRepository;
  readonly incidents: IncidentsRepository;
  readonly inventory: InventoryRepository;
  readonly runs: RunsRepository;
  readonly settings: SettingsRepository;
  readonly keys: KeysRepository;
  readonly sinks: SinksRepository;
  readonly vulnerabilities: VulnerabilitiesRepository;
  readonly portal: PortalRepository;
  /** Applied migration versions, oldest first. */
  migrations(): Promise<number[]>;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. On
   * PostgreSQL, `fn` runs again (a few times at most) when the database aborts it for a deadlock
   * between replicas, so it should only do database work through `tx`.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
