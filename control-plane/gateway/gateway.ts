import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { protocolError, type ArcsimError, type Limits, type ErrorCode } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Store } from '../store/index.ts';
import { authenticateAgent } from '../auth/enrollment.ts';
import { Admission } from './admission.ts';
import { AgentSession, type SessionDeps } from './agent-session.ts';
import { CommandRegistry } from './command-registry.ts';
import { HeartbeatWriter } from './heartbeat-writer.ts';
import { RegistrationWriter, type Registered } from './registration-writer.ts';
import { hostDifferences } from './host-fingerprint.ts';

export const AGENT_PATH = '/agent/v1';

/**
 * The WebSocket gateway. Agents are authenticated in the HTTP `upgrade` handler, before any
 * socket exists: a missing or wrong key gets a plain HTTP 401 with a typed JSON body.
 */
export class Gateway {
  /** The live (registered and claimed) session of each agent identity. */
  readonly sessions = new Map<string, AgentSession>();
  readonly commands = new CommandRegistry();
  /** Every open session, claimed or not, so shutdown closes them all. */
  private readonly open = new Set<AgentSession>();
  private readonly wss: WebSocketServer;
  /** Bounded admission of registrations and of the upgrades that precede them. */
  readonly admission: Admission;
  /** Heartbeats written in batches, not one commit each. */
  readonly heartbeats: HeartbeatWriter;
  /** Registrations stored in groups, not two commits each. */
  readonly registrations: RegistrationWriter;

  constructor(
    /** The API's own server: plain http, or https so agents connect with wss on the same port. */
    private readonly server: Server | HttpsServer,
    private readonly store: Pick<Store, 'agents' | 'machines' | 'transaction'>,
    private readonly limits: Limits,
    private readonly logger: Logger,
    private readonly sessionDeps: Omit<SessionDeps, 'store' | 'limits' | 'logger' | 'commands' | 'claim' | 'admit' | 'busyRetryAfterMs' | 'registered' | 'heartbeats' | 'registrations'> & {
      /** After a group of machines is stored, before their `registered` is sent: the inventory merges them, so their first events already dedup by asset. */
      onRegistering?(registered: Registered[]): Promise<void>;
      onCloneSuspected?(agentId: string, differences: string[]): void;
      /** Heartbeats written in a batch turned these Disconnected/Expired machines Connected again. */
      onConnectedAgain?(agentIds: string[]): Promise<void>;
    },
  ) {
    // Frames over the limit get a typed error from the session; ws's cap (twice the limit) is the backstop.
    // No per-message deflate (a zlib context per socket; agents' frames are small), and no client set
    // of ws's own: `open` below already holds every session (10,000 agents, issue 16).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes * 2, perMessageDeflate: false, clientTracking: false });
    // The admission measures how fast this process registers agents: real elapsed time, not the
    // control plane's clock (which tests and playback move by hand).
    this.admission = new Admission(limits, Math.random, { now: () => performance.now() });
    this.heartbeats = new HeartbeatWriter({
      store, flushMs: limits.heartbeatFlushMs, logger, health: sessionDeps.health,
      onConnectedAgain: (ids) => sessionDeps.onConnectedAgain?.(ids) ?? Promise.resolve(),
    });
    this.registrations = new RegistrationWriter({
      store, maxPerCommit: limits.maxRegistrationsPerCommit,
      merge: (registered) => sessionDeps.onRegistering?.(registered) ?? Promise.resolve(),
    });
    server.on('upgrade', (req, socket, head) => {
      // A plain function, not a closure: a closure here would share this handler's context and keep
      // the request (headers and all) alive as long as the socket, ~2 KB per connected agent.
      socket.on('error', destroySocket);
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path !== AGENT_PATH) return reject(socket, 'ARCSIM_E_NOT_FOUND', `WebSocket endpoint is ${AGENT_PATH}`);
      // Refused before the key lookup and the upgrade: a storm costs one short HTTP answer per surplus agent.
      if (!this.admission.enterHandshake()) return reject(socket, 'ARCSIM_E_BUSY', undefined, this.admission.retryAfterMs());
      this.paced(() => this.upgrade(req, socket, head).catch((err) => {
        logger.error('upgrade failed', { error: String(err) });
        reject(socket, 'ARCSIM_E_INTERNAL');
      }));
    });
  }

  private readonly pending: Array<() => void> = [];
  private upgradesThisTurn = 0;
  private turnScheduled = false;

  /**
   * Runs at most `limits.maxUpgradesPerTurn` upgrades per turn of the event loop; the others run
   * on later turns, so a burst of connections leaves room for HTTP requests (`/api/health`).
   */
  private paced(work: () => void): void {
    if (this.upgradesThisTurn < this.limits.maxUpgradesPerTurn && this.pending.length === 0) {
      this.upgradesThisTurn++;
      this.scheduleTurn();
      work();
      return;
    }
    this.pending.push(work);
    this.scheduleTurn();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      this.upgradesThisTurn = 0;
      while (this.pending.length && this.upgradesThisTurn < this.limits.maxUpgradesPerTurn) {
        this.upgradesThisTurn++;
        this.pending.shift()!();
      }
      if (this.pending.length) this.scheduleTurn();
    });
  }

  /** Authenticates and upgrades one counted (enterHandshake) socket. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let counted = true;
    const leave = () => { if (counted) { counted = false; this.admission.leaveHandshake(); } };
    socket.once('close', leave);
    if (socket.destroyed) return leave(); // gone while it waited for its turn
    const auth = await authenticateAgent(this.store, req.headers.authorization);
    if (!auth.ok) {
      leave();
      this.logger.warn('agent upgrade refused', { code: auth.code, remote: req.socket.remoteAddress });
      return reject(socket, auth.code);
    }
    const remote = req.socket.remoteAddress ?? null;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // The session becomes the identity's live one only when its `register` is claimed (below).
      const session = new AgentSession(ws, auth.agent, {
        ...this.sessionDeps, store: this.store, limits: this.limits, logger: this.logger, commands: this.commands, heartbeats: this.heartbeats, registrations: this.registrations,
        claim: (s, facts) => this.claim(s, facts, remote),
        admit: (work) => this.admission.run(work),
        busyRetryAfterMs: () => this.admission.retryAfterMs(),
        registered: leave,
      }, socket);
      this.open.add(session);
      ws.on('close', () => {
        this.open.delete(session);
        if (this.sessions.get(auth.agent.agentId) === session) {
          this.sessions.delete(auth.agent.agentId);
          this.sessionDeps.metrics?.agentGone(auth.agent.agentId);
        }
      });
      this.logger.debug('agent connected', { agentId: auth.agent.agentId });
    });
  }

  /**
   * One live connection per identity. A newcomer from the same host (same hostname, SMBIOS UUID
   * and MACs as far as both know them) replaces the old connection: a reconnect after a
   * half-open socket. A newcomer from a different host while the first is live is a cloned
   * identity: it is refused, recorded and logged, and the live host keeps its machine.
   */
  private async claim(session: AgentSession, facts: NonNullable<AgentSession['facts']>, remote: string | null): Promise<'ok' | 'clone'> {
    const agentId = session.agentId;
    const live = this.sessions.get(agentId);
    if (live && live !== session && live.facts && live.ws.readyState === live.ws.OPEN) {
      const differences = hostDifferences(live.facts, facts);
      if (differences.length > 0) {
        await this.store.machines.recordIdentityConflict({
          agentId, detectedAt: this.sessionDeps.clock.now(), existingFacts: live.facts, newcomerFacts: facts,
          remoteAddress: remote, differences,
        });
        this.logger.warn('cloned agent identity: refused a second live host', {
          agentId, liveHost: live.facts.hostname, newcomerHost: facts.hostname, differences, remote,
        });
        this.sessionDeps.onCloneSuspected?.(agentId, differences);
        return 'clone';
      }
    }
    if (live && live !== session) live.fail(protocolError('ARCSIM_E_REPLACED'));
    this.sessions.set(agentId, session);
    return 'ok';
  }

  /** Ends every open session of `agentId` (claimed or not; not one deregistering itself) with `error`'s close code; the number ended. */
  disconnect(agentId: string, error: ArcsimError): number {
    let n = 0;
    for (const s of this.open) {
      if (s.agentId !== agentId || s.deregistering) continue;
      s.fail(error);
      n++;
    }
    return n;
  }

  /** Sends the agent its next key on its live socket (see AgentSession.rotateKey). */
  rotateKey(agentId: string, agentKey: string, timeoutMs: number): Promise<void> {
    const s = this.sessions.get(agentId);
    if (!s) return Promise.reject(protocolError('ARCSIM_E_AGENT_OFFLINE', `agent ${agentId} is not connected; rotate its key when it is`));
    return s.rotateKey(agentKey, timeoutMs);
  }

  /** Closes every agent socket with 1001 (going away). */
  close(): void {
    for (const s of this.open) s.fail(protocolError('ARCSIM_E_SHUTDOWN'));
    this.commands.close();
    this.wss.close();
  }
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function reject(socket: Duplex, code: ErrorCode, detail?: string, retryAfterMs?: number): void {
  if (socket.destroyed) return;
  const err = protocolError(code, detail);
  const body = JSON.stringify(code === 'ARCSIM_E_NODE_INVALID' ? { ...err.toJSON(), node_invalid: true }
    : retryAfterMs !== undefined ? { ...err.toJSON(), retryable: true, retryAfterMs } : err.toJSON());
  const reason = STATUS_CODES[err.status] ?? 'Error';
  const retryAfter = retryAfterMs !== undefined ? `Retry-After: ${Math.ceil(retryAfterMs / 1000)}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${err.status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n${retryAfter}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
