import { join } from 'node:path';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { enrollWithToken } from './enroll.ts';
import { protocolError } from '../protocol/errors.ts';
import { forgetIdentity, loadIdentity, saveIdentity, type Identity } from './identity.ts';

/**
 * The agent's identity over its life: loaded from the state dir or enrolled with the token, and
 * replaced when the control plane refuses it (`node_invalid`, a bad key) or sees it live on
 * another host (a cloned VM). Without a token to enroll again, the agent cannot go on: `fatal`.
 */
export class Enrollment {
  identity: Identity | undefined;
  /** Set while a refused identity is being replaced; the next connect waits for it. */
  private replacing: Promise<void> | undefined;

  constructor(private readonly o: {
    controlPlane: string;
    /** PEM of the one CA trusted for an https control plane (pinned); default: Node's CA store. */
    ca?: string;
    token: string | undefined;
    stateDir: string;
    clock: Clock;
    logger: Logger;
    /** The hostname to enroll with (collected on demand). */
    hostname: () => Promise<string>;
    /** The agent must stop for good. */
    fatal: (err: Error) => void;
  }) {}

  /** Loads the identity from the state dir, enrolling with the token when there is none. */
  async ensure(): Promise<Identity> {
    this.identity = loadIdentity(this.o.stateDir);
    if (!this.identity) await this.enroll();
    return this.identity!;
  }

  /** Resolves once no identity replacement is in progress. */
  async settled(): Promise<void> {
    if (this.replacing) await this.replacing;
  }

  /** The upgrade was refused: `node_invalid` (or a bad key) means the control plane forgot us, so enroll again. */
  refused(status: number, body: string): void {
    let code = '';
    try {
      code = (JSON.parse(body) as { code?: string }).code ?? '';
    } catch { /* not JSON */ }
    this.o.logger.warn('connection refused', { status, code });
    if (code === 'ARCSIM_E_AGENT_REVOKED') return this.revoked();
    if (status === 401 && (code === 'ARCSIM_E_NODE_INVALID' || code === 'ARCSIM_E_AGENT_AUTH')) {
      this.replace(`the control plane does not accept this agent's identity (${code})`, code);
    }
  }

  /**
   * The control plane revoked this agent (by hand, with its token, or by deleting its machine): it
   * must not connect again nor enroll itself back with the token it may still have, so it stops
   * for good and says why.
   */
  revoked(): void {
    this.o.logger.error(
      `this agent's key was revoked by the control plane (ARCSIM_E_AGENT_REVOKED); stopping and not reconnecting. ` +
        `To bring this host back, install the agent again with a new token (or delete ${join(this.o.stateDir, 'identity.json')} and run with --token)`,
    );
    this.o.fatal(protocolError('ARCSIM_E_AGENT_REVOKED', `agent ${this.identity?.agentId ?? ''}`.trim()));
  }

  /** Stores the key the control plane rotated in, durably, before the agent acknowledges it. Throws when it cannot be written. */
  rotated(agentKey: string): void {
    if (!this.identity) throw new Error('no identity to rotate');
    const next = { ...this.identity, agentKey };
    saveIdentity(this.o.stateDir, next);
    this.identity = next;
    this.o.logger.info('agent key rotated; the new key is stored', { agentId: next.agentId });
  }

  /** The control plane saw this identity live on another host: this copy must get its own. Resolves when replaced (or given up). */
  cloned(): Promise<void> {
    return this.replace('this agent identity is live on another host (the state dir was copied, or the VM cloned)', 'ARCSIM_E_IDENTITY_CLONED');
  }

  private replace(why: string, code: string): Promise<void> {
    this.replacing = this.reenroll(why, code).finally(() => (this.replacing = undefined));
    return this.replacing;
  }

  private async reenroll(why: string, code: string): Promise<void> {
    if (!this.o.token) {
      this.o.logger.error(`${why}; no token to enroll again with: delete ${join(this.o.stateDir, 'identity.json')} and run the agent with --token`);
      this.o.fatal(new Error(`${code}: ${why}`));
      return;
    }
    this.o.logger.warn(`${why}; enrolling again with the token`);
    forgetIdentity(this.o.stateDir);
    try {
      await this.enroll();
    } catch (err) {
      this.o.logger.error('re-enrollment failed', { error: String(err) });
      this.o.fatal(err as Error);
    }
  }

  private async enroll(): Promise<void> {
    const token = this.o.token;
    if (!token) {
      throw new Error(
        `agent is not enrolled (no identity in ${this.o.stateDir}) and no enrollment token was given; ` +
          'create one with "arcsim token create --subscription S --resource-group RG" and pass it with --token',
      );
    }
    this.identity = await enrollWithToken({
      controlPlane: this.o.controlPlane, ca: this.o.ca, token, stateDir: this.o.stateDir, hostname: await this.o.hostname(), clock: this.o.clock,
    });
    this.o.logger.info('enrolled', { agentId: this.identity.agentId });
  }
}
