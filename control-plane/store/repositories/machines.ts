import { sql, Where } from '../sql.ts';
import { toConflict, toMachine, type ConflictCols, type MachineCols } from '../row-decoding.ts';
import type { ArcStatus, ExtensionRow, IdentityConflictRow, MachineRow, MachinesRepository } from '../store.ts';
import { RepositoryBase } from './base.ts';
import { machineMergeKeys } from '../merge-keys.ts';
import { writeMergeKeys } from './merge-keys.ts';

const Q = {
  upsertMachine: sql(`INSERT INTO machines (agent_id, resource_id, name, facts, sql_instances, extensions, status, last_heartbeat, last_status_change, registered_at)
                      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                      ON CONFLICT (agent_id) DO UPDATE SET facts = excluded.facts, sql_instances = excluded.sql_instances,
                        extensions = excluded.extensions, last_heartbeat = excluded.last_heartbeat,
                        last_status_change = CASE WHEN machines.status = excluded.status THEN machines.last_status_change ELSE excluded.last_status_change END,
                        status = excluded.status
                      RETURNING *`),
  getMachine: sql(`SELECT * FROM machines WHERE agent_id = ?`),
  deleteMachine: sql(`DELETE FROM machines WHERE agent_id = ? RETURNING resource_id`),
  listMachines: sql(`SELECT * FROM machines ORDER BY registered_at, name`),
  // The sweep's pre-filter (arc-status.ts silenceBounds): three narrow columns, no JSON decoded.
  // float8 on PostgreSQL: a bound from a fractional or unbounded duration is not a bigint.
  listSilent: sql((d) => `SELECT agent_id, status, last_heartbeat FROM machines
                          WHERE status NOT IN ('Error', 'Expired')
                            AND (last_heartbeat <= ${d.float('?')} OR (status = 'Connected' AND last_heartbeat < ${d.float('?')}))
                          ORDER BY registered_at, name`),
  resourceTaken: sql(`SELECT 1 AS taken FROM machines WHERE resource_id = ? AND agent_id <> ?`),
  heartbeat: sql((d) => `UPDATE machines SET last_heartbeat = ${d.greatest('last_heartbeat', '?')}, dropped_events = COALESCE(?, dropped_events) WHERE agent_id = ?`),
  setStatus: sql(`UPDATE machines SET status = ?, last_status_change = ? WHERE agent_id = ? AND status <> ?`),
  setExtensions: sql(`UPDATE machines SET extensions = ? WHERE agent_id = ?`),
  setTags: sql(`UPDATE machines SET tags = ? WHERE agent_id = ? RETURNING *`),
  byResourceIds: sql((d) => `SELECT * FROM machines WHERE ${d.inList('resource_id')} ORDER BY resource_id`),
  // Locked on PostgreSQL: a concurrent addNotCollected waits for the row, then reads the committed sum.
  getNotCollected: sql((d) => `SELECT not_collected FROM machines WHERE agent_id = ? ${d.forUpdate}`),
  setNotCollected: sql(`UPDATE machines SET not_collected = ? WHERE agent_id = ?`),
  insertConflict: sql(`INSERT INTO identity_conflicts (agent_id, detected_at, existing_facts, newcomer_facts, remote_address, differences)
                       VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
};

export class MachinesRepo extends RepositoryBase implements MachinesRepository {
  async upsertMachine(m: MachineRow): Promise<MachineRow> {
    // notCollected is counted separately (addNotCollected), never overwritten here.
    // The machine and its merge keys (merge_keys) are written together.
    return this.ex.atomic(async (ex) => {
      const r = toMachine((await ex.get<MachineCols>(Q.upsertMachine, [
        m.agentId, m.resourceId, m.name, JSON.stringify(m.facts), JSON.stringify(m.sqlInstances), JSON.stringify(m.extensions),
        m.status, m.lastHeartbeat, m.lastStatusChange, m.registeredAt,
      ]))!);
      await writeMergeKeys(ex, 'arc', r.resourceId, machineMergeKeys(r));
      return r;
    });
  }

  async getMachine(agentId: string): Promise<MachineRow | undefined> {
    const r = await this.ex.get<MachineCols>(Q.getMachine, [agentId]);
    return r && toMachine(r);
  }

  async listMachines(): Promise<MachineRow[]> {
    return (await this.ex.all<MachineCols>(Q.listMachines)).map(toMachine);
  }

  async listSilentMachines(disconnectBefore: number, expireFrom: number): Promise<Array<Pick<MachineRow, 'agentId' | 'status' | 'lastHeartbeat'>>> {
    const rows = await this.ex.all<Pick<MachineCols, 'agent_id' | 'status' | 'last_heartbeat'>>(Q.listSilent, [expireFrom, disconnectBefore]);
    return rows.map((r) => ({ agentId: r.agent_id, status: r.status, lastHeartbeat: r.last_heartbeat }));
  }

  async isResourceIdTaken(resourceId: string, exceptAgentId: string): Promise<boolean> {
    return (await this.ex.get(Q.resourceTaken, [resourceId, exceptAgentId])) !== undefined;
  }

  async deleteMachine(agentId: string): Promise<boolean> {
    return this.ex.atomic(async (ex) => {
      const r = await ex.get<{ resource_id: string }>(Q.deleteMachine, [agentId]);
      if (r) await writeMergeKeys(ex, 'arc', r.resource_id, []);
      return r !== undefined;
    });
  }

  async recordHeartbeat(agentId: string, at: number, droppedEvents?: number): Promise<void> {
    await this.ex.run(Q.heartbeat, [at, droppedEvents ?? null, agentId]);
  }

  async recordHeartbeats(rows: ReadonlyArray<{ agentId: string; at: number; droppedEvents?: number }>): Promise<string[]> {
    return this.ex.atomic(async (tx) => {
      await tx.runEach(Q.heartbeat, rows.map((r) => [r.at, r.droppedEvents ?? null, r.agentId]));
      const changed = await tx.runEach(Q.setStatus, rows.map((r) => ['Connected', r.at, r.agentId, 'Connected']));
      return rows.filter((_, i) => changed[i] === 1).map((r) => r.agentId);
    });
  }

  async setMachineStatus(agentId: string, status: ArcStatus, at: number): Promise<boolean> {
    return (await this.ex.run(Q.setStatus, [status, at, agentId, status])) === 1;
  }

  async setMachineExtensions(agentId: string, extensions: ExtensionRow[]): Promise<void> {
    await this.ex.run(Q.setExtensions, [JSON.stringify(extensions), agentId]);
  }

  async setMachineTags(agentId: string, tags: Record<string, string>): Promise<void> {
    await this.ex.atomic(async (ex) => {
      const r = await ex.get<MachineCols>(Q.setTags, [JSON.stringify(tags), agentId]);
      if (r) { const m = toMachine(r); await writeMergeKeys(ex, 'arc', m.resourceId, machineMergeKeys(m)); }
    });
  }

  async machinesByResourceIds(resourceIds: string[]): Promise<MachineRow[]> {
    if (resourceIds.length === 0) return [];
    return (await this.ex.all<MachineCols>(Q.byResourceIds, [JSON.stringify(resourceIds)])).map(toMachine);
  }

  async addNotCollected(agentId: string, counts: Record<string, number>): Promise<void> {
    if (Object.keys(counts).length === 0) return;
    await this.ex.atomic(async (ex) => {
      const r = await ex.get<{ not_collected: string }>(Q.getNotCollected, [agentId]);
      if (!r) return;
      // Existing tables keep their place; new ones follow in the order given.
      const total: Record<string, number> = JSON.parse(r.not_collected);
      for (const [table, n] of Object.entries(counts)) total[table] = (total[table] ?? 0) + n;
      await ex.run(Q.setNotCollected, [JSON.stringify(total), agentId]);
    });
  }

  async recordIdentityConflict(c: Omit<IdentityConflictRow, 'id'>): Promise<IdentityConflictRow> {
    const r = await this.ex.get<{ id: number }>(Q.insertConflict, [
      c.agentId, c.detectedAt, JSON.stringify(c.existingFacts), JSON.stringify(c.newcomerFacts), c.remoteAddress, c.differences.join(','),
    ]);
    return { ...c, id: r!.id };
  }

  async listIdentityConflicts(agentId?: string): Promise<IdentityConflictRow[]> {
    const w = new Where().when(agentId, 'agent_id = ?');
    return (await this.ex.all<ConflictCols>(sql(`SELECT * FROM identity_conflicts ${w} ORDER BY detected_at, id`), w.args)).map(toConflict);
  }
}
