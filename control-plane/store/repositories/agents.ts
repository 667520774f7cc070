import { sql } from '../sql.ts';
import { toAgent, toToken, type AgentCols, type TokenCols } from '../row-decoding.ts';
import type { AgentRow, AgentsRepository, TokenRow } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  insertToken: sql(`INSERT INTO enrollment_tokens (id, token_hash, subscription, resource_group, location, created_at, expires_at, revoked_at, uses, max_uses)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  tokenByHash: sql(`SELECT * FROM enrollment_tokens WHERE token_hash = ?`),
  tokenById: sql(`SELECT * FROM enrollment_tokens WHERE id = ?`),
  listTokens: sql(`SELECT * FROM enrollment_tokens ORDER BY created_at`),
  revokeToken: sql(`UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
  revokeAgentsOfToken: sql(`UPDATE agents SET revoked_at = ?, revoked_reason = ?, pending_key_hash = NULL
                            WHERE token_id = ? AND revoked_at IS NULL RETURNING agent_id`),
  insertAgent: sql(`INSERT INTO agents (agent_id, key_hash, token_id, subscription, resource_group, location, hostname, enrolled_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
  // One conditional UPDATE: it takes the token's row lock (PostgreSQL re-checks the condition on
  // the latest row once the lock is granted; SQLite runs one writer at a time), so two concurrent
  // enrollments can never both take the last use.
  useToken: sql(`UPDATE enrollment_tokens SET uses = uses + 1
                 WHERE id = ? AND revoked_at IS NULL AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses)`),
  getAgent: sql(`SELECT * FROM agents WHERE agent_id = ?`),
  revokeAgent: sql(`UPDATE agents SET revoked_at = ?, revoked_reason = ?, pending_key_hash = NULL WHERE agent_id = ? AND revoked_at IS NULL`),
  setPendingKey: sql(`UPDATE agents SET pending_key_hash = ? WHERE agent_id = ? AND revoked_at IS NULL`),
  promoteKey: sql(`UPDATE agents SET key_hash = pending_key_hash, pending_key_hash = NULL
                   WHERE agent_id = ? AND pending_key_hash = ? AND revoked_at IS NULL`),
};

export class AgentsRepo extends RepositoryBase implements AgentsRepository {
  async insertToken(t: TokenRow): Promise<void> {
    await this.ex.run(Q.insertToken, [t.id, t.tokenHash, t.subscription, t.resourceGroup, t.location, t.createdAt, t.expiresAt, t.revokedAt, t.uses, t.maxUses]);
  }

  async findTokenByHash(hash: string): Promise<TokenRow | undefined> {
    const r = await this.ex.get<TokenCols>(Q.tokenByHash, [hash]);
    return r && toToken(r);
  }

  async listTokens(): Promise<TokenRow[]> {
    return (await this.ex.all<TokenCols>(Q.listTokens)).map(toToken);
  }

  async revokeToken(id: string, at: number, options: { cascade?: boolean } = {}): Promise<{ outcome: 'revoked' | 'already' | 'missing'; agentIds: string[] }> {
    return this.ex.atomic(async (ex) => {
      if (!(await ex.get<TokenCols>(Q.tokenById, [id]))) return { outcome: 'missing' as const, agentIds: [] };
      const outcome = (await ex.run(Q.revokeToken, [at, id])) === 1 ? 'revoked' as const : 'already' as const;
      const agentIds = options.cascade
        ? (await ex.all<{ agent_id: string }>(Q.revokeAgentsOfToken, [at, 'token revoked', id])).map((r) => r.agent_id)
        : [];
      return { outcome, agentIds };
    });
  }

  async enrollAgent(a: AgentRow, now: number): Promise<boolean> {
    return this.ex.atomic(async (ex) => {
      if ((await ex.run(Q.useToken, [a.tokenId, now])) !== 1) return false;
      await ex.run(Q.insertAgent, [a.agentId, a.keyHash, a.tokenId, a.subscription, a.resourceGroup, a.location, a.hostname, a.enrolledAt]);
      return true;
    });
  }

  async getAgent(agentId: string): Promise<AgentRow | undefined> {
    const r = await this.ex.get<AgentCols>(Q.getAgent, [agentId]);
    return r && toAgent(r);
  }

  async revokeAgent(agentId: string, at: number, reason: string): Promise<boolean> {
    return (await this.ex.run(Q.revokeAgent, [at, reason, agentId])) === 1;
  }

  async setPendingKey(agentId: string, keyHash: string): Promise<void> {
    await this.ex.run(Q.setPendingKey, [keyHash, agentId]);
  }

  async promoteKey(agentId: string, keyHash: string): Promise<boolean> {
    return (await this.ex.run(Q.promoteKey, [agentId, keyHash])) === 1;
  }
}
