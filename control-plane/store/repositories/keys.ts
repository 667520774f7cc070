import { sql } from '../sql.ts';
import { toApiKey, toAudit, type ApiKeyCols, type AuditCols } from '../row-decoding.ts';
import type { ApiKeyRow, AuditRow, KeysRepository } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  insertKey: sql(`INSERT INTO api_keys (id, name, role, key_hash, created_at, created_by, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
  keyByHash: sql(`SELECT * FROM api_keys WHERE key_hash = ?`),
  listKeys: sql(`SELECT * FROM api_keys ORDER BY created_at, id`),
  revokeKey: sql(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
  touchKey: sql(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`),
  addAudit: sql(`INSERT INTO audit_log (at, who, key_id, role, method, route, target, status, remote) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  listAudit: sql(`SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?`),
};

export class KeysRepo extends RepositoryBase implements KeysRepository {
  async insertKey(k: ApiKeyRow): Promise<void> {
    await this.ex.run(Q.insertKey, [k.id, k.name, k.role, k.keyHash, k.createdAt, k.createdBy, k.revokedAt, k.lastUsedAt]);
  }

  async findKeyByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    const r = await this.ex.get<ApiKeyCols>(Q.keyByHash, [keyHash]);
    return r && toApiKey(r);
  }

  async listKeys(): Promise<ApiKeyRow[]> {
    return (await this.ex.all<ApiKeyCols>(Q.listKeys)).map(toApiKey);
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    return (await this.ex.run(Q.revokeKey, [at, id])) === 1;
  }

  async touchKey(id: string, at: number): Promise<void> {
    await this.ex.run(Q.touchKey, [at, id]);
  }

  async addAudit(r: Omit<AuditRow, 'id'>): Promise<void> {
    await this.ex.run(Q.addAudit, [r.at, r.who, r.keyId, r.role, r.method, r.route, r.target, r.status, r.remote]);
  }

  async listAudit(page: { limit: number; before?: number }): Promise<AuditRow[]> {
    return (await this.ex.all<AuditCols>(Q.listAudit, [page.before ?? Number.MAX_SAFE_INTEGER, page.limit])).map(toAudit);
  }
}
