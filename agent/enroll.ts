import { hostname as osHostname } from 'node:os';
import { systemClock, type Clock } from '../lib/clock.ts';
import { forgetIdentity, loadIdentity, saveIdentity, type Identity } from './identity.ts';
import { postJson } from './post-json.ts';

/**
 * Exchanges an enrollment token for an agent identity (`POST /api/enroll`) and writes it to the
 * state dir (0700; identity.json 0600). Throws with the control plane's code when refused. With
 * `ca` (PEM), only that CA is trusted for an https control plane (the token is never sent to another).
 */
export async function enrollWithToken(o: { controlPlane: string; token: string; stateDir: string; hostname: string; clock?: Clock; ca?: string }): Promise<Identity> {
  let res: Awaited<ReturnType<typeof postJson>>;
  try {
    res = await postJson(new URL('/api/enroll', o.controlPlane), { token: o.token, hostname: o.hostname }, { ca: o.ca });
  } catch (err) {
    throw new Error(`cannot reach the control plane at ${o.controlPlane}: ${(err as Error).message}`);
  }
  const body = res.body;
  if (res.status !== 201) throw new Error(`enrollment refused: ${body.code ?? res.status} ${body.message ?? ''}`.trim());
  const identity: Identity = {
    agentId: body.agentId!, agentKey: body.agentKey!, controlPlane: o.controlPlane,
    subscription: body.subscription, resourceGroup: body.resourceGroup,
    enrolledAt: new Date((o.clock ?? systemClock).now()).toISOString(),
  };
  saveIdentity(o.stateDir, identity);
  return identity;
}

/** `arcsim agent enroll`: enroll unless an identity exists (or `force`), without connecting. */
export async function enrollOnly(o: { controlPlane: string; token: string; stateDir: string; force?: boolean; hostname?: string; ca?: string }): Promise<{ agentId: string; already: boolean }> {
  const existing = loadIdentity(o.stateDir);
  if (existing && !o.force) return { agentId: existing.agentId, already: true };
  if (existing) forgetIdentity(o.stateDir);
  const id = await enrollWithToken({ ...o, hostname: o.hostname ?? osHostname() });
  return { agentId: id.agentId, already: false };
}
