import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { issuePath, protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AgentRow, Store, TokenRow } from '../store/index.ts';
import { hashSecret, newSecret, secretMatches } from './secrets.ts';

/** Longest a token may live: 365 days, in ms. */
export const MAX_TOKEN_TTL_MS = 365 * 86_400_000;
/** Most agents one token may enroll. */
export const MAX_TOKEN_USES = 10_000;

export const TokenRequestSchema = z.strictObject({
  subscription: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a subscription id: letters, digits and dashes'),
  resourceGroup: z.string().regex(/^[-\w.()]{1,90}$/, 'a resource group name: up to 90 of letters, digits, - _ . ( )'),
  location: z.string().regex(/^[a-z0-9]{1,32}$/).default('eastus'),
  /** Lifetime in milliseconds (at most MAX_TOKEN_TTL_MS). */
  ttlMs: z.number().int().positive().max(MAX_TOKEN_TTL_MS).default(86_400_000),
  /** Most agents the token may enroll; left out: no limit (in-process callers only; the REST API defaults to 1). */
  maxUses: z.number().int().min(1).max(MAX_TOKEN_USES).optional(),
});
export type TokenRequest = z.input<typeof TokenRequestSchema>;

/** Creates an enrollment token; the clear-text token is returned once, only its hash is kept. */
export async function createEnrollmentToken(
  store: Pick<Store, 'agents'>, request: TokenRequest, clock: Clock,
): Promise<{ id: string; token: string; expiresAt: number; subscription: string; resourceGroup: string; location: string; maxUses: number | null }> {
  const parsed = TokenRequestSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw protocolError('ARCSIM_E_VALIDATION', `${issuePath(issue.path)}: ${issue.message}`, issuePath(issue.path));
  }
  const r = parsed.data;
  const token = newSecret('arcsim_enroll');
  const row: TokenRow = {
    id: randomUUID(), tokenHash: hashSecret(token), subscription: r.subscription, resourceGroup: r.resourceGroup,
    location: r.location, createdAt: clock.now(), expiresAt: clock.now() + r.ttlMs, revokedAt: null, uses: 0, maxUses: r.maxUses ?? null,
  };
  await store.agents.insertToken(row);
  return { id: row.id, token, expiresAt: row.expiresAt, subscription: r.subscription, resourceGroup: r.resourceGroup, location: r.location, maxUses: row.maxUses };
}

/**
 * Exchanges a valid enrollment token for a new agent identity. Expired, revoked and used-up
 * tokens are refused with their own codes; the agent key is returned once and stored hashed.
 * The use is counted by the store in the same step that checks it, so with max uses N exactly N
 * concurrent enrollments succeed.
 */
export async function enrollAgent(
  store: Pick<Store, 'agents'>, token: string, hostname: string | undefined, clock: Clock,
): Promise<{ agentId: string; agentKey: string; row: AgentRow }> {
  const row = await store.agents.findTokenByHash(hashSecret(token));
  if (!row || row.revokedAt !== null) throw protocolError('ARCSIM_E_TOKEN_INVALID');
  if (clock.now() >= row.expiresAt) {
    throw protocolError('ARCSIM_E_TOKEN_EXPIRED', `expired at ${new Date(row.expiresAt).toISOString()}; create a new one with "arcsim token create"`);
  }
  if (row.maxUses !== null && row.uses >= row.maxUses) throw exhausted(row);
  const agentId = randomUUID();
  const agentKey = newSecret('arcsim_agent');
  const agent: AgentRow = {
    agentId, keyHash: hashSecret(agentKey), tokenId: row.id, subscription: row.subscription,
    resourceGroup: row.resourceGroup, location: row.location, hostname: hostname ?? null, enrolledAt: clock.now(),
  };
  if (!(await store.agents.enrollAgent(agent, clock.now()))) {
    // Lost a race (another enrollment took the last use, or the token was revoked meanwhile): say which.
    const now = await store.agents.findTokenByHash(row.tokenHash);
    if (!now || now.revokedAt !== null) throw protocolError('ARCSIM_E_TOKEN_INVALID');
    if (clock.now() >= now.expiresAt) throw protocolError('ARCSIM_E_TOKEN_EXPIRED');
    throw exhausted(now);
  }
  return { agentId, agentKey, row: agent };
}

function exhausted(t: TokenRow) {
  return protocolError('ARCSIM_E_TOKEN_EXHAUSTED', `token ${t.id} allowed ${t.maxUses} enrollment(s); create a new one with "arcsim token create --max-uses N"`);
}

/**
 * Checks `Authorization: Bearer <agentId>.<agentKey>`; returns the agent or the catalogued error
 * code. A revoked agent presenting its (right) key gets ARCSIM_E_AGENT_REVOKED, so it knows to stop
 * rather than enroll again. A key being rotated in is accepted too, and presenting it completes
 * the rotation: the agent has it on disk, so the old key stops working.
 */
export async function authenticateAgent(
  store: Pick<Store, 'agents'>, authorization: string | undefined,
): Promise<{ ok: true; agent: AgentRow } | { ok: false; code: 'ARCSIM_E_AGENT_AUTH' | 'ARCSIM_E_NODE_INVALID' | 'ARCSIM_E_AGENT_REVOKED' }> {
  const m = /^Bearer ([^.\s]+)\.(\S+)$/.exec(authorization ?? '');
  if (!m) return { ok: false, code: 'ARCSIM_E_AGENT_AUTH' };
  const agent = await store.agents.getAgent(m[1]!);
  if (!agent) return { ok: false, code: 'ARCSIM_E_NODE_INVALID' };
  const key = m[2]!;
  if (secretMatches(key, agent.keyHash)) {
    return agent.revokedAt != null ? { ok: false, code: 'ARCSIM_E_AGENT_REVOKED' } : { ok: true, agent };
  }
  if (agent.pendingKeyHash && secretMatches(key, agent.pendingKeyHash) && (await store.agents.promoteKey(agent.agentId, agent.pendingKeyHash))) {
    return { ok: true, agent: { ...agent, keyHash: agent.pendingKeyHash, pendingKeyHash: null } };
  }
  return { ok: false, code: 'ARCSIM_E_AGENT_AUTH' };
}
