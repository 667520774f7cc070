import { sql } from '../sql.ts';
import type { LiveChange, LiveCursor, PortalRepository, SavedQueryRow } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  save: sql(`INSERT INTO saved_queries (owner, name, query, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query, updated_at = excluded.updated_at`),
  list: sql(`SELECT * FROM saved_queries WHERE owner = ? ORDER BY name`),
  del: sql(`DELETE FROM saved_queries WHERE owner = ? AND name = ?`),
  cursor: sql(`SELECT (SELECT COALESCE(MAX(id), 0) FROM alert_outbox) AS alert, (SELECT COALESCE(MAX(id), 0) FROM sync_audit) AS status`),
  created: sql(`SELECT id, system_alert_id, change, status, at FROM alert_outbox WHERE id > ? ORDER BY id LIMIT ?`),
  statuses: sql(`SELECT id, at, subject, subject_id, product, to_status, field FROM sync_audit WHERE id > ? ORDER BY id LIMIT ?`),
};

interface SavedQueryCols { owner: string; name: string; query: string; created_at: number | string; updated_at: number | string }

export class PortalRepo extends RepositoryBase implements PortalRepository {
  async liveCursor(): Promise<LiveCursor> {
    const r = await this.ex.get<{ alert: number | string; status: number | string }>(Q.cursor);
    return { alert: Number(r?.alert ?? 0), status: Number(r?.status ?? 0) };
  }

  async liveChanges(after: LiveCursor, limit: number): Promise<{ changes: LiveChange[]; cursor: LiveCursor }> {
    // New alerts from the sinks' outbox (its status rows repeat what the sync audit says, per product).
    const outbox = await this.ex.all<{ id: number | string; system_alert_id: string; change: string; status: string; at: number | string }>(Q.created, [after.alert, limit]);
    const created = outbox.filter((r) => r.change === 'created');
    const statuses = await this.ex.all<{ id: number | string; at: number | string; subject: 'alert' | 'incident'; subject_id: string; product: string; to_status: string; field: string }>(Q.statuses, [after.status, limit]);
    const cursor = {
      alert: outbox.length ? Number(outbox.at(-1)!.id) : after.alert,
      status: statuses.length ? Number(statuses.at(-1)!.id) : after.status,
    };
    const changes = [
      ...created.map((r): LiveChange => ({ source: 'alert', id: Number(r.id), at: Number(r.at), subject: 'alert', subjectId: r.system_alert_id, status: r.status })),
      ...statuses.map((r): LiveChange => ({ source: 'status', id: Number(r.id), at: Number(r.at), subject: r.subject, subjectId: r.subject_id, product: r.product, status: r.to_status, ...(r.field && r.field !== 'status' ? { field: r.field as LiveChange['field'] } : {}) })),
    ];
    return { changes, cursor };
  }

  async saveQuery(r: SavedQueryRow): Promise<void> {
    await this.ex.run(Q.save, [r.owner, r.name, r.query, r.createdAt, r.updatedAt]);
  }

  async listQueries(owner: string): Promise<SavedQueryRow[]> {
    return (await this.ex.all<SavedQueryCols>(Q.list, [owner])).map((r) => ({
      owner: r.owner, name: r.name, query: r.query, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
    }));
  }

  async deleteQuery(owner: string, name: string): Promise<boolean> {
    return (await this.ex.run(Q.del, [owner, name])) > 0;
  }
}
