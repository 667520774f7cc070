import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  AGENT_TO_SERVER, decodeFrame, encodeAck, encodeFrame, machineResourceId, protocolError, sqlInstanceResourceId, toMachineName,
  type Limits, type Message, type MessageInput, type MessageOf, type SensorEvent,
} from '../../protocol/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentRow, MachineRow, Store } from '../store/index.ts';
import { batchSize, type IngestResult } from '../ingest/ingest.ts';
import type { IngestQueue } from '../ingest/ingest-queue.ts';
import { storeFault, type StoreHealth } from '../health/store-health.ts';
import type { CommandRegistry, CommandResult } from './command-registry.ts';
import type { HeartbeatWriter } from './heartbeat-writer.ts';
import type { RegistrationWriter } from './registration-writer.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { DecodePool } from '../ingest/decode-pool.ts';
import type { DecodeReply, PreparedBatch } from '../ingest/batch-decode.ts';
import { ArcsimError, ERRORS, type ErrorCode } from '../../protocol/errors.ts';
import { osFamilyOf, type OsFamily } from '../detection/index.ts';

export interface SessionDeps {
  store: Pick<Store, 'machines' | 'agents'>;
  /** The group-commit queue every session hands its batches to. */
  ingest: Pick<IngestQueue, 'submit'>;
  clock: Clock;
  limits: Limits;
  logger: Logger;
  /** Pending commands, shared by every session so an answer may arrive on a later connection. */
  commands: CommandRegistry;
  /**
   * Called with the facts of a `register` before anything is stored: `ok` makes this session the
   * identity's live one; `clone` means the identity is live on another host, so this one is refused.
   */
  claim(session: AgentSession, facts: MessageOf<'register'>['machine']): Promise<'ok' | 'clone'>;
  onRegistered(session: AgentSession, machine: MachineRow): void;
  onIngested(session: AgentSession, result: IngestResult): void;
  /** Stores registrations in groups, and has the inventory merge them before `registered` is sent (so its first events already dedup by asset). */
  registrations: Pick<RegistrationWriter, 'submit'>;
  /** After a heartbeat is recorded (a Disconnected/Expired machine turns Connected); not called when `heartbeats` writes them. */
  onHeartbeat?(agentId: string): Promise<void>;
  /** Writes heartbeats in batches (see HeartbeatWriter); without it each heartbeat is written at once. */
  heartbeats?: HeartbeatWriter;
  /** The agent asked to be deregistered (uninstall): delete its machine and revoke its key; resolves to the deleted machine's resource id. */
  onDeregister?(agentId: string): Promise<string | null>;
  /** Runs a registration under the gateway's bounded admission; `busy` when its queue is full. */
  admit?<T>(work: () => Promise<T>): Promise<{ busy: true } | { busy: false; value: T }>;
  /** The jittered delay to advise an agent refused with ARCSIM_E_BUSY, ms. */
  busyRetryAfterMs?(): number;
  /** The socket registered: it no longer counts against the handshake bound. */
  registered?(): void;
  /** Told of every batch commit and every store write fault, for `/api/health`. */
  health?: StoreHealth;
  /** Counts events received, stored and refused, ack and detection latencies, alerts, spool figures (GET /metrics). */
  metrics?: Metrics;
  /**
   * The ingest worker threads: a registered agent's `events` frames are decoded, validated and
   * matched there (off this thread) while this one stores and acks; without it (or when it
   * answers `null`) frames are decoded here.
   */
  decoder?: Pick<DecodePool, 'decode'>;
}

export type CommandBody = MessageInput<'command'>['command'];
export type { CommandResult };

/**
 * One connected agent. Frames are handled strictly in arrival order. An `events` batch that passes
 * the session's checks goes to the group-commit queue, and the next frame is looked at while it
 * waits for its commit (so an agent's window of batches can commit in one transaction); every
 * other reply (an ack, an error, a command's answer) is sent only after the acks of the batches
 * before it, and any other frame is handled only once those batches are committed, so a
 * `command-result` that follows a playback's last batch still means every event of it is stored.
 */
export class AgentSession {
  machine: MachineRow | undefined;
  /** Facts sent with `register` (set before the claim, so a later newcomer can be compared). */
  facts: MessageOf<'register'>['machine'] | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Settles once every batch handed to the ingest queue so far is acked (or answered with an error). */
  private acks: Promise<void> = Promise.resolve();
  private tokens: number;
  private lastRefill: number;
  private alive = true;
  /** Set while this socket deregisters its agent: it answers `deregistered` and closes itself. */
  deregistering = false;
  /**
   * Set once the agent is revoked or deregistered on this socket: frames still queued are dropped
   * (other failures keep handling what arrived before the close, e.g. a last command-result).
   */
  private revoked = false;
  /** Key rotations sent and not yet acknowledged, by id. */
  private readonly rotations = new Map<string, { resolve(): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly pingTimer: NodeJS.Timeout;
  /** Set while the socket is corked, until the end of this turn of the event loop (see send). */
  private corked = false;

  /**
   * `socket` is the connection under `ws` (the one the upgrade handed over): when given, the frames
   * sent in one turn of the event loop leave in one write (see send).
   */
  constructor(readonly ws: WebSocket, readonly agent: AgentRow, private readonly deps: SessionDeps, private readonly socket?: Duplex) {
    this.tokens = deps.limits.eventsBurst;
    this.lastRefill = deps.clock.now();
    this.handshakeTimer = setTimeout(() => {
      if (!this.machine) this.fail(protocolError('ARCSIM_E_HANDSHAKE_TIMEOUT'));
    }, deps.limits.handshakeTimeoutMs);
    this.pingTimer = setInterval(() => {
      if (!this.alive) return this.fail(protocolError('ARCSIM_E_LIVENESS'));
      this.alive = false;
      ws.ping();
    }, deps.limits.pingIntervalMs);
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (data, isBinary) => {
      const arrivedAt = performance.now();
      this.alive = true;
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
      // Checked here (ws's own maxPayload is a hard cap above this) so the agent gets a typed error first.
      if (size > deps.limits.maxFrameBytes) {
        return this.fail(protocolError('ARCSIM_E_FRAME_TOO_LARGE', `${size} bytes > ${deps.limits.maxFrameBytes}`));
      }
      if (isBinary) return this.sendError(protocolError('ARCSIM_E_FRAME_BINARY'));
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      // A registered agent's batch goes to the ingest worker now, so it is decoded and matched
      // while earlier frames are stored; its reply is taken in turn, like any other frame.
      if (deps.decoder && this.machine && isEventsFrame(bytes)) {
        const reply = deps.decoder.decode(this.agentId, this.hostOs, bytes);
        this.queue = this.queue.then(() => this.handleDecoded(reply, bytes, arrivedAt)).catch((err) => this.failed(bytes.toString('utf8', 0, 256), err));
        return;
      }
      const text = bytes.toString('utf8');
      this.queue = this.queue.then(() => this.handle(text, arrivedAt)).catch((err) => this.failed(text, err));
    });
    ws.on('close', () => this.dispose());
    ws.on('error', (err) => deps.logger.warn('agent socket error', { agentId: agent.agentId, error: err.message }));
  }

  get agentId(): string {
    return this.agent.agentId;
  }

  /** Sends a command and resolves with the agent's `command-result` (possibly sent on a later connection). */
  command(body: CommandBody, timeoutMs = 120_000): Promise<CommandResult> {
    const { id, result } = this.deps.commands.create(this.agentId, body.action, timeoutMs);
    try {
      this.send(encodeFrame('command', { id, command: body }));
    } catch (err) {
      this.deps.commands.fail(id, err as Error); // a body that fails its own schema is never sent
    }
    return result;
  }

  /**
   * Hands the agent its next key (`rotate-key`) and resolves once it acknowledges having stored it
   * (`key-rotated`). Rejects with ARCSIM_E_COMMAND_TIMEOUT, or ARCSIM_E_AGENT_OFFLINE when the
   * socket closes first.
   */
  rotateKey(agentKey: string, timeoutMs: number): Promise<void> {
    if (this.revoked || this.ws.readyState !== this.ws.OPEN) return Promise.reject(protocolError('ARCSIM_E_AGENT_OFFLINE', `agent ${this.agentId} is not connected`));
    const id = `rot-${randomUUID()}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.rotations.delete(id);
        reject(protocolError('ARCSIM_E_COMMAND_TIMEOUT', `agent ${this.agentId} did not acknowledge the new key within ${timeoutMs} ms; its old key still works`));
      }, timeoutMs);
      this.rotations.set(id, { resolve, reject, timer });
      this.send(encodeFrame('rotate-key', { id, agentKey }));
    });
  }

  /** Ends the session with a catalogued error: an `error` frame, then the close code. */
  fail(error: ArcsimError, retry?: { retryable: boolean; retryAfterMs?: number }): void {
    if (error.code === 'ARCSIM_E_AGENT_REVOKED') this.revoked = true;
    this.sendError(error, undefined, retry);
    this.ws.close(error.closeCode ?? 1008, error.code);
  }

  /**
   * A frame's handling threw. A store fault (disk full, database locked or down) is answered with
   * a retryable ARCSIM_E_STORE_WRITE naming the batch (nothing of it was committed: the agent keeps
   * it and resends it later) and marks the store degraded; anything else is ARCSIM_E_INTERNAL,
   * still naming the batch, so the agent never waits on a batch that will not be acked.
   */
  private failed(text: string, err: unknown): void {
    const seq = seqOf(text);
    const cause = storeFault(err);
    if (cause) {
      this.deps.health?.failed(cause);
      this.deps.logger.error('store write failed', { agentId: this.agentId, seq, cause, error: String(err) });
      const retryAfterMs = this.deps.limits.storeRetryAfterMs;
      return this.sendError(protocolError('ARCSIM_E_STORE_WRITE', cause), seq, { retryable: true, retryAfterMs });
    }
    this.deps.logger.error('frame handling failed', { agentId: this.agentId, seq, error: String(err) });
    this.sendError(protocolError('ARCSIM_E_INTERNAL'), seq, { retryable: seq !== undefined, retryAfterMs: this.deps.limits.storeRetryAfterMs });
  }

  /**
   * One group commit acks every batch of the agent it held at once (up to its window: 8 in the
   * bench), so the socket is corked at the first frame and uncorked once the promise jobs queued
   * meanwhile have run (`process.nextTick`: the acks of one commit are sent from the jobs its
   * commit settles): those acks leave in one write instead of one system call each (issue 16,
   * docs/performance.md "Change 5"). Not later (`setImmediate` was): the next group's transaction,
   * already queued for that turn, would hold them for its first batches (issue 16, "Change 8").
   * Same frames, same order; `ws.close` and the end of the socket flush what is corked.
   */
  private send(frame: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.socket && !this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.ws.send(frame);
  }

  private readonly uncork = () => {
    this.corked = false;
    this.socket!.uncork();
  };

  private sendError(error: ArcsimError, ref?: number | string, retry?: { retryable: boolean; retryAfterMs?: number }): void {
    this.send(encodeFrame('error', { code: error.code, message: error.message, path: error.path, ref, ...retry }));
  }

  private async handle(text: string, arrivedAt: number): Promise<void> {
    if (this.revoked) return;
    const decoded = decodeFrame(text, AGENT_TO_SERVER, { maxEventsPerBatch: this.deps.limits.maxEventsPerBatch });
    if (!decoded.ok) return this.undecodable(decoded.error, seqOf(text));
    return this.dispatch(decoded.message, text, arrivedAt);
  }

  /** A frame the ingest worker decoded (`null`: it could not, the frame is decoded here). */
  private async handleDecoded(pending: Promise<DecodeReply | null>, bytes: Buffer, arrivedAt: number): Promise<void> {
    const reply = await pending;
    if (!reply) return this.handle(bytes.toString('utf8'), arrivedAt);
    if (this.revoked) return;
    const head = bytes.toString('utf8', 0, 256);
    if (!reply.ok) return this.undecodable(rebuiltError(reply), seqOf(head));
    if (reply.kind === 'message') return this.dispatch(reply.message, head, arrivedAt);
    // As in dispatch(): this agent's heartbeat still in memory is written before its later batch takes effect.
    if (this.deps.heartbeats?.has(this.agentId)) await this.deps.heartbeats.flush();
    return this.events(reply.batch.seq, reply.batch, head, arrivedAt);
  }

  /** The OS family of this agent's machine (its rules only run on its own events). */
  private get hostOs(): OsFamily | undefined {
    return osFamilyOf(this.machine?.facts.osType);
  }

  private async undecodable(error: ArcsimError, seq: number | undefined): Promise<void> {
    if (seq !== undefined) this.deps.metrics?.eventsRejected(this.agentId, error.code, undefined);
    await this.acks;
    return this.sendError(error, seq);
  }

  private async dispatch(msg: Message, text: string, arrivedAt: number): Promise<void> {
    // Anything but a batch waits until the batches before it are committed and acked.
    if (msg.type !== 'events') await this.acks;
    if (this.revoked) return;
    // This agent's heartbeat still in memory is written before anything it sent later takes effect.
    if (msg.type !== 'heartbeat' && this.deps.heartbeats?.has(this.agentId)) await this.deps.heartbeats.flush();
    switch (msg.type) {
      case 'register': {
        if (!this.deps.admit) return this.register(msg);
        // The agent did send its register in time: waiting for admission is ours, not a handshake timeout.
        clearTimeout(this.handshakeTimer);
        const r = await this.deps.admit(() => this.register(msg));
        if (r.busy) {
          this.fail(protocolError('ARCSIM_E_BUSY'), { retryable: true, retryAfterMs: this.deps.busyRetryAfterMs?.() ?? this.deps.limits.busyRetryAfterMs });
        }
        return;
      }
      case 'heartbeat':
        if (!this.machine) return this.sendError(protocolError('ARCSIM_E_NOT_REGISTERED'));
        // Revoked on another replica (which cannot reach this socket): found here, within one heartbeat.
        if ((await this.deps.store.agents.getAgent(this.agentId))?.revokedAt != null) {
          return this.fail(protocolError('ARCSIM_E_AGENT_REVOKED', `agent ${this.agentId}`));
        }
        this.deps.metrics?.heartbeat(this.agentId, msg.spooledEvents, msg.droppedEvents);
        if (this.deps.heartbeats) return this.deps.heartbeats.record(this.agentId, this.deps.clock.now(), msg.droppedEvents);
        await this.deps.store.machines.recordHeartbeat(this.agentId, this.deps.clock.now(), msg.droppedEvents);
        this.deps.health?.succeeded();
        return this.deps.onHeartbeat?.(this.agentId);
      case 'events':
        return this.events(msg.seq, msg.events, text, arrivedAt);
      case 'key-rotated': {
        const r = this.rotations.get(msg.id);
        if (!r) {
          this.deps.logger.warn('acknowledgement of an unknown key rotation', { agentId: this.agentId, id: msg.id });
          return;
        }
        clearTimeout(r.timer);
        this.rotations.delete(msg.id);
        return r.resolve();
      }
      case 'deregister': {
        if (!this.deps.onDeregister) return this.sendError(protocolError('ARCSIM_E_FRAME_TYPE', 'deregistration is not offered here', 'type'));
        this.deregistering = true;
        const machineId = await this.deps.onDeregister(this.agentId);
        this.revoked = true;
        this.send(encodeFrame('deregistered', { machineId }));
        this.ws.close(1000, 'deregistered');
        return;
      }
      case 'command-result': {
        if (msg.notCollected && Object.keys(msg.notCollected).length > 0) {
          await this.deps.store.machines.addNotCollected(this.agentId, msg.notCollected);
        }
        if (!this.deps.commands.resolve(this.agentId, msg)) {
          this.deps.logger.warn('result for unknown command', { agentId: this.agentId, id: msg.id });
        }
        return;
      }
    }
  }

  private async register(msg: MessageOf<'register'>): Promise<void> {
    const now = this.deps.clock.now();
    const a = this.agent;
    if (this.machine) return this.sendError(protocolError('ARCSIM_E_FRAME_TYPE', 'already registered on this connection', 'type'));
    // Closed while waiting for admission: storing it as Connected now would be a lie (and wasted work in a storm).
    if (this.ws.readyState !== this.ws.OPEN) return;
    if ((await this.deps.claim(this, msg.machine)) === 'clone') {
      clearTimeout(this.handshakeTimer);
      return this.fail(protocolError('ARCSIM_E_IDENTITY_CLONED', `agent ${a.agentId} is connected from another host; this connection is refused`));
    }
    this.facts = msg.machine;
    // Stored (with the registrations waiting alongside, one transaction) and merged by the inventory.
    const stored = await this.deps.registrations.submit({
      agent: a, facts: msg.machine, sqlInstances: msg.sqlInstances, extensions: msg.extensions, now,
      // Revoked or deleted meanwhile: do not bring the machine back; closed: storing it as Connected would be a lie.
      dropped: () => this.revoked || this.ws.readyState !== this.ws.OPEN,
    });
    if (!stored) return;
    const { machine } = stored;
    const name = machine.name;
    this.machine = machine;
    clearTimeout(this.handshakeTimer);
    this.deps.registered?.();
    this.send(encodeFrame('registered', {
      machineId: machine.resourceId,
      sqlInstanceIds: msg.sqlInstances.map((s) => sqlInstanceResourceId(a.subscription, a.resourceGroup, `${name}_${s.instanceName}`)),
      heartbeatIntervalSec: this.deps.limits.heartbeatIntervalSec,
      extensions: machine.extensions,
    }));
    this.deps.onRegistered(this, machine);
  }

  /**
   * Checks a batch and hands it to the ingest queue; its ack (or error) is sent after the commit and
   * after every earlier reply. A refused batch's error waits for the acks of the batches before it.
   */
  private async events(seq: number, events: SensorEvent[] | PreparedBatch, text: string, arrivedAt: number): Promise<void> {
    const metrics = this.deps.metrics;
    const tables = () => (Array.isArray(events) ? events.map((e) => e.Table) : events.rows.tables);
    metrics?.eventsReceived(this.agentId, tables());
    metrics?.batchDecoded(Array.isArray(events) ? 'main' : 'worker');
    const refuse = async (error: ArcsimError, retry?: { retryable: boolean; retryAfterMs?: number }) => {
      metrics?.eventsRejected(this.agentId, error.code, tables());
      await this.acks;
      this.sendError(error, seq, retry);
    };
    if (!this.machine) return refuse(protocolError('ARCSIM_E_NOT_REGISTERED'));
    const foreign = Array.isArray(events) ? events.findIndex((e) => e.DeviceId !== this.agentId) : events.foreign;
    if (foreign >= 0) {
      return refuse(protocolError('ARCSIM_E_EVENT_FOREIGN', `DeviceId must be ${this.agentId}`, `events.${foreign}.DeviceId`));
    }
    if (!this.takeTokens(batchSize(events))) {
      return refuse(protocolError('ARCSIM_E_RATE_LIMITED', `${this.deps.limits.maxEventsPerSecond} events/s`), {
        retryable: true, retryAfterMs: this.deps.limits.rateLimitRetryAfterMs,
      });
    }
    // Dropped unstored if the agent is revoked or deregistered before the batch's turn (as a frame still queued was before).
    const committed = this.deps.ingest.submit({ agent: this.agent, machine: this.machine, events, arrivedAt, dropped: () => this.revoked });
    this.acks = this.acks
      .then(() => committed)
      .then((result) => {
        if (!result) return;
        this.deps.health?.succeeded();
        this.send(encodeAck(seq, result.stored));
        if (metrics) {
          const seconds = (performance.now() - arrivedAt) / 1000;
          metrics.batchAcked(seconds);
          metrics.eventsStored(this.agentId, result.storedByTable);
          for (const a of result.alerts) metrics.alert(a.alert.alertType, a.created, seconds * 1000);
        }
        this.deps.onIngested(this, result);
      }, (err: unknown) => {
        // Answered by failed() (a retryable store-write error or an internal one); counted here, where the events are known.
        metrics?.eventsRejected(this.agentId, storeFault(err) ? 'ARCSIM_E_STORE_WRITE' : 'ARCSIM_E_INTERNAL', tables());
        this.failed(text, err);
      })
      .catch((err) => this.failed(text, err));
  }

  /** Token bucket on the injected clock: `maxEventsPerSecond` sustained, `eventsBurst` at once. */
  private takeTokens(n: number): boolean {
    const now = this.deps.clock.now();
    const { maxEventsPerSecond, eventsBurst } = this.deps.limits;
    this.tokens = Math.min(eventsBurst, this.tokens + ((now - this.lastRefill) / 1000) * maxEventsPerSecond);
    this.lastRefill = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  private dispose(): void {
    for (const r of this.rotations.values()) {
      clearTimeout(r.timer);
      r.reject(protocolError('ARCSIM_E_AGENT_OFFLINE', `agent ${this.agentId} disconnected before acknowledging its new key; its old key still works`));
    }
    this.rotations.clear();
    clearTimeout(this.handshakeTimer);
    clearInterval(this.pingTimer);
    this.deps.commands.disconnected(this.agentId);
  }
}

/** Whether a text frame is (by its first bytes) an `events` batch: those go to the ingest worker. */
function isEventsFrame(bytes: Buffer): boolean {
  return /"type"\s*:\s*"events"/.test(bytes.toString('latin1', 0, 256));
}

/** The worker's decode error as the catalogued error it was (same code, message and path). */
function rebuiltError(e: { code: string; message: string; path?: string }): ArcsimError {
  const spec = ERRORS[e.code as ErrorCode];
  return new ArcsimError(e.code, { status: spec?.status ?? 400, closeCode: spec?.closeCode ?? null, message: e.message }, undefined, e.path);
}

/** Best effort: the `seq` of a refused or failed events frame, so the agent knows which batch failed. */
function seqOf(text: string): number | undefined {
  if (!/"type"\s*:\s*"events"/.test(text.slice(0, 256))) return undefined;
  const m = /"seq"\s*:\s*(\d+)/.exec(text.slice(0, 256));
  return m ? Number(m[1]) : undefined;
}
