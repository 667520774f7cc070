import { sql } from '../sql.ts';
import type { HuntingRepository, SavedQueryRow } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  save: sql(`INSERT INTO saved_queries (owner, name, query, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query, updated_at = excluded.updated_at`),
  list: sql(`SELECT * FROM saved_queries WHERE owner = ? ORDER BY name`),
  del: sql(`DELETE FROM saved_queries WHERE owner = ? AND name = ?`),
};

interface SavedQueryCols { owner: string; name: string; query: string; created_at: number | string; updated_at: number | string }

export class HuntingRepo extends RepositoryBase implements HuntingRepository {
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
