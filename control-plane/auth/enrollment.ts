import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { protocolError } from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AgentRow, Store, TokenRow } from '../store/index.ts';
import { hashSecret, newSecret, secretMatches } from './secrets.ts';

export const TokenRequestSchema = z.strictObject({
  subscription: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a subscription id: letters, digits and dashes'),
  resourceGroup: z.string().regex(/^[-\w.()]{1,90}$/, 'a resource group name: up to 90 of letters, digits, - _ . ( )'),
  location: z.string().regex(/^[a-z0-9]{1,32}$/).default('eastus'),
  /** Lifetime in milliseconds. */
  ttlMs: z.number().int().positive().max(365 * 86_400_000).default(86_400_000),
});
export type TokenRequest = z.input<typeof TokenRequestSchema>;

/** Creates an enrollment token; the clear-text token is returned once, only its hash is kept. */
export async function createEnrollmentToken(
  store: Pick<Store, 'agents'>, request: TokenRequest, clock: Clock,
): Promise<{ id: string; token: string; expiresAt: number; subscription: string; resourceGroup: string; location: string }> {
  const r = TokenRequestSchema.parse(request);
  const token = newSecret('arcsim_enroll');
  const row: TokenRow = {
    id: randomUUID(), tokenHash: hashSecret(token), subscription: r.subscription, resourceGroup: r.resourceGroup,
    location: r.location, createdAt: clock.now(), expiresAt: clock.now() + r.ttlMs, revokedAt: null, uses: 0,
  };
  await store.agents.insertToken(row);
  return { id: row.id, token, expiresAt: row.expiresAt, subscription: r.subscription, resourceGroup: r.resourceGroup, location: r.location };
}

/**
 * Exchanges a valid enrollment token for a new agent identity. Expired and revoked tokens are
 * refused with their own codes; the agent key is returned once and stored hashed.
 */
export async function enrollAgent(
  store: Pick<Store, 'agents'>, token: string, hostname: string | undefined, clock: Clock,
): Promise<{ agentId: string; agentKey: string; row: AgentRow }> {
  const row = await store.agents.findTokenByHash(hashSecret(token));
  if (!row || row.revokedAt !== null) throw protocolError('ARCSIM_E_TOKEN_INVALID');
  if (clock.now() >= row.expiresAt) {
    throw protocolError('ARCSIM_E_TOKEN_EXPIRED', `expired at ${new Date(row.expiresAt).toISOString()}; create a new one with "arcsim token create"`);
  }
  const agentId = randomUUID();
  const agentKey = newSecret('arcsim_agent');
  const agent: AgentRow = {
    agentId, keyHash: hashSecret(agentKey), tokenId: row.id, subscription: row.subscription,
    resourceGroup: row.resourceGroup, location: row.location, hostname: hostname ?? null, enrolledAt: clock.now(),
  };
  await store.agents.enrollAgent(agent);
  return { agentId, agentKey, row: agent };
}

/** Checks `Authorization: Bearer <agentId>.<agentKey>`; returns the agent or the catalogued error code. */
export async function authenticateAgent(
  store: Pick<Store, 'agents'>, authorization: string | undefined,
): Promise<{ ok: true; agent: AgentRow } | { ok: false; code: 'ARCSIM_E_AGENT_AUTH' | 'ARCSIM_E_NODE_INVALID' }> {
  const m = /^Bearer ([^.\s]+)\.(\S+)$/.exec(authorization ?? '');
  if (!m) return { ok: false, code: 'ARCSIM_E_AGENT_AUTH' };
  const agent = await store.agents.getAgent(m[1]!);
  if (!agent) return { ok: false, code: 'ARCSIM_E_NODE_INVALID' };
  if (!secretMatches(m[2]!, agent.keyHash)) return { ok: false, code: 'ARCSIM_E_AGENT_AUTH' };
  return { ok: true, agent };
}
