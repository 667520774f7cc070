import type { MachineFacts, SensorEvent, SqlInstanceFacts } from '../../protocol/index.ts';

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
  /** Per table, events produced on this machine that no installed extension collected. */
  notCollected?: Record<string, number>;
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
  /** The rest of the MDC alert properties (display name, intent, entities, ...). */
  properties: Record<string, unknown>;
}

export interface AlertFilter {
  severity?: AlertSeverity;
  status?: AlertStatus;
  alertType?: string;
  detonationId?: string;
  resourceId?: string;
}

/** The work done inside one transaction: ingest a batch, evaluate rules, upsert alerts. */
export interface StoreTx {
  /** Stores events keyed by ReportId; returns only those not stored before (redeliveries dropped). */
  insertEvents(agentId: string, events: SensorEvent[], receivedAt: number): Promise<SensorEvent[]>;
  addRuleHit(hit: RuleHit): Promise<void>;
  /** Hits of `ruleId` for `groupKey` with `from <= eventTime <= to`, oldest first. */
  ruleHits(ruleId: string, groupKey: string, from: number, to: number): Promise<RuleHit[]>;
  deleteRuleHits(ruleId: string, groupKey: string, reportIds: string[]): Promise<void>;
  /** Drops hits older than `before` (they can no longer fall in any window). */
  pruneRuleHits(ruleId: string, before: number): Promise<void>;
  /** The alert with this dedup key whose [start, end] lies within `windowMs` of `eventTime`. */
  findAlertForDedup(dedupKey: string, eventTime: number, windowMs: number): Promise<AlertRow | undefined>;
  insertAlert(alert: AlertRow): Promise<void>;
  updateAlertOccurrence(systemAlertId: string, patch: { count: number; startTime: number; endTime: number; updatedAt: number }): Promise<void>;
  linkAlertEvents(systemAlertId: string, links: Array<{ reportId: string; detonationId: string | null }>): Promise<void>;
}

/**
 * Everything the control plane keeps. Async so SQLite and PostgreSQL share it; idempotency
 * and dedup live in the database (unique keys), never only in process memory.
 */
export interface Store extends StoreTx {
  readonly kind: 'sqlite' | 'postgres';
  /** Applied migration versions, oldest first. */
  migrations(): Promise<number[]>;
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;

  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;

  insertToken(token: TokenRow): Promise<void>;
  findTokenByHash(tokenHash: string): Promise<TokenRow | undefined>;
  listTokens(): Promise<TokenRow[]>;
  revokeToken(id: string, at: number): Promise<boolean>;
  /** Creates the agent and counts one use of its token, atomically. */
  enrollAgent(agent: AgentRow): Promise<void>;
  getAgent(agentId: string): Promise<AgentRow | undefined>;

  /** Creates or replaces the agent's machine; the resource id stays what it was first given. */
  upsertMachine(machine: MachineRow): Promise<MachineRow>;
  getMachine(agentId: string): Promise<MachineRow | undefined>;
  isResourceIdTaken(resourceId: string, exceptAgentId: string): Promise<boolean>;
  listMachines(): Promise<MachineRow[]>;
  recordHeartbeat(agentId: string, at: number): Promise<void>;
  setMachineStatus(agentId: string, status: ArcStatus, at: number): Promise<void>;
  /** Replaces the machine's extension list (the control plane is authoritative for it). */
  setMachineExtensions(agentId: string, extensions: ExtensionRow[]): Promise<void>;
  /** Adds per-table counts of events that were not collected. */
  addNotCollected(agentId: string, counts: Record<string, number>): Promise<void>;
  recordIdentityConflict(conflict: Omit<IdentityConflictRow, 'id'>): Promise<IdentityConflictRow>;
  listIdentityConflicts(agentId?: string): Promise<IdentityConflictRow[]>;

  listAlerts(filter?: AlertFilter): Promise<AlertRow[]>;
  getAlert(systemAlertId: string): Promise<AlertRow | undefined>;
  alertEvents(systemAlertId: string): Promise<Array<{ reportId: string; detonationId: string | null }>>;
  countEvents(filter?: { agentId?: string; detonationId?: string }): Promise<number>;
  listEvents(filter: { detonationId?: string; agentId?: string; limit?: number }): Promise<SensorEvent[]>;

  close(): Promise<void>;
}
