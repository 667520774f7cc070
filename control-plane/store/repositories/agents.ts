import { sql } from '../sql.ts';
import { toAgent, toToken, type AgentCols, type TokenCols } from '../row-decoding.ts';
import type { AgentRow, AgentsRepository, TokenRow } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  insertToken: sql(`INSERT INTO enrollment_tokens (id, token_hash, subscription, resource_group, location, created_at, expires_at, revoked_at, uses)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  tokenByHash: sql(`SELECT * FROM enrollment_tokens WHERE token_hash = ?`),
  listTokens: sql(`SELECT * FROM enrollment_tokens ORDER BY created_at`),
  revokeToken: sql(`UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
  insertAgent: sql(`INSERT INTO agents (agent_id, key_hash, token_id, subscription, resource_group, location, hostname, enrolled_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
  // `uses = uses + 1` takes the token's row lock, so concurrent enrollments on one token all count.
  useToken: sql(`UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ?`),
  getAgent: sql(`SELECT * FROM agents WHERE agent_id = ?`),
};

export class AgentsRepo extends RepositoryBase implements AgentsRepository {
  async insertToken(t: TokenRow): Promise<void> {
    await this.ex.run(Q.insertToken, [t.id, t.tokenHash, t.subscription, t.resourceGroup, t.location, t.createdAt, t.expiresAt, t.revokedAt, t.uses]);
  }

  async findTokenByHash(hash: string): Promise<TokenRow | undefined> {
    const r = await this.ex.get<TokenCols>(Q.tokenByHash, [hash]);
    return r && toToken(r);
  }

  async listTokens(): Promise<TokenRow[]> {
    return (await this.ex.all<TokenCols>(Q.listTokens)).map(toToken);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    return (await this.ex.run(Q.revokeToken, [at, id])) === 1;
  }

  async enrollAgent(a: AgentRow): Promise<void> {
    await this.ex.atomic(async (ex) => {
      await ex.run(Q.insertAgent, [a.agentId, a.keyHash, a.tokenId, a.subscription, a.resourceGroup, a.location, a.hostname, a.enrolledAt]);
      await ex.run(Q.useToken, [a.tokenId]);
    });
  }

  async getAgent(agentId: string): Promise<AgentRow | undefined> {
    const r = await this.ex.get<AgentCols>(Q.getAgent, [agentId]);
    return r && toAgent(r);
  }
}
