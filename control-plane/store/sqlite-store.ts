import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SensorEvent } from '../../protocol/index.ts';
import type {
  AgentRow, AlertFilter, AlertRow, ArcStatus, ExtensionRow, IdentityConflictRow, MachineRow, RuleHit, Store, StoreTx, TokenRow,
} from './store.ts';

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
      pruneHits: p(`DELETE FROM rule_hits WHERE rule_id = ? AND event_time < ?`),
      findAlert: p(`SELECT * FROM alerts WHERE dedup_key = ? AND end_time >= ? AND start_time <= ?
                    ORDER BY end_time DESC LIMIT 1`),
      insertAlert: p(`INSERT INTO alerts (system_alert_id, dedup_key, alert_type, rule_id, agent_id, resource_id, severity,
                        status, count, start_time, end_time, time_generated, updated_at, properties)
                      VALUES (@systemAlertId, @dedupKey, @alertType, @ruleId, @agentId, @resourceId, @severity,
                        @status, @count, @startTime, @endTime, @timeGenerated, @updatedAt, @properties)`),
      updateAlert: p(`UPDATE alerts SET count = ?, start_time = ?, end_time = ?, updated_at = ? WHERE system_alert_id = ?`),
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
  pruneRuleHits(ruleId: string, before: number): void {
    this.stmt.pruneHits!.run(ruleId, before);
  }
  findAlertForDedup(dedupKey: string, eventTime: number, windowMs: number): AlertRow | undefined {
    const r = this.stmt.findAlert!.get(dedupKey, eventTime - windowMs, eventTime + windowMs) as Row | undefined;
    return r && toAlert(r);
  }
  insertAlert(a: AlertRow): void {
    this.stmt.insertAlert!.run({ ...a, properties: JSON.stringify(a.properties) });
  }
  updateAlertOccurrence(id: string, p: { count: number; startTime: number; endTime: number; updatedAt: number }): void {
    this.stmt.updateAlert!.run(p.count, p.startTime, p.endTime, p.updatedAt, id);
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
  setMachineStatus(agentId: string, status: ArcStatus, at: number): void {
    this.stmt.setStatus!.run(status, at, agentId, status);
  }
  setMachineExtensions(agentId: string, extensions: ExtensionRow[]): void {
    this.stmt.setExtensions!.run(JSON.stringify(extensions), agentId);
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

function toToken(r: Row): TokenRow {
  return {
    id: r.id, tokenHash: r.token_hash, subscription: r.subscription, resourceGroup: r.resource_group, location: r.location,
    createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, uses: r.uses,
  };
}

function toMachine(r: Row): MachineRow {
  return {
    agentId: r.agent_id, resourceId: r.resource_id, name: r.name, facts: JSON.parse(r.facts),
    sqlInstances: JSON.parse(r.sql_instances), extensions: JSON.parse(r.extensions), status: r.status,
    lastHeartbeat: r.last_heartbeat, lastStatusChange: r.last_status_change, registeredAt: r.registered_at,
    notCollected: JSON.parse(r.not_collected ?? '{}'),
  };
}

function toAlert(r: Row): AlertRow {
  return {
    systemAlertId: r.system_alert_id, dedupKey: r.dedup_key, alertType: r.alert_type, ruleId: r.rule_id,
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
