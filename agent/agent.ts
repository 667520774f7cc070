import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import {
  decodeFrame, encodeFrame, LIMITS, SERVER_TO_AGENT, type MachineFacts, type MessageOf, type SqlInstanceFacts,
} from '../protocol/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { planRun, validateScenario } from '../scenarios/index.ts';
import { releasePlan, warpedStart, type ReleaseResult } from '../scenarios/playback.ts';
import type { SensorEvent } from '../protocol/index.ts';
import { ScenarioRunner, type RunRequest, type ScheduleEntry, type ScheduleJobFn } from './scheduler.ts';
import { forgetIdentity, loadIdentity, saveIdentity, type Identity } from './identity.ts';
import { collectHostFacts } from './host-facts.ts';
import { MemoryOutbox } from './outbox.ts';
import { FaultInjector } from './fault-injector.ts';

export interface AgentOptions {
  /** Control-plane base URL, e.g. http://127.0.0.1:7070. */
  controlPlane: string;
  /** Enrollment token; needed for the first start and to re-enroll after `node_invalid`. */
  token?: string;
  stateDir: string;
  clock?: Clock;
  logger?: Logger;
  /** Host facts to register; defaults to the real host's (systeminformation). */
  facts?: () => Promise<{ machine: MachineFacts; sqlInstances: SqlInstanceFacts[] }>;
  /** Reconnect backoff bounds, ms. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Most batches sent and not yet acked. */
  maxInflightBatches?: number;
  /** Random source for backoff jitter. */
  random?: () => number;
  /** Cron schedules of scenario runs (agent/scheduler.ts). */
  schedules?: ScheduleEntry[];
  /** Starts cron jobs; defaults to node-schedule (tests fire jobs by hand). */
  scheduleJob?: ScheduleJobFn;
}

type RunCommand = Extract<MessageOf<'command'>['command'], { action: 'run-scenario' }>;

/**
 * The arcsim agent: enrolls once, connects, registers the host, heartbeats, and plays the
 * scenarios it is told to play as synthetic events. It never executes scenario content.
 * Emits `registered` (registered message), `error-frame` (error message), `disconnected`.
 */
export class Agent extends EventEmitter {
  identity: Identity | undefined;
  private ws: WebSocket | undefined;
  private registered = false;
  private stopped = false;
  private attempt = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly outbox = new MemoryOutbox();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  /** Plays scenarios on this host, never overlapping unless allowed (commands and cron). */
  readonly runner: ScenarioRunner;
  /** Set while a refused identity is being replaced; the next connect waits for it. */
  private reenrolling: Promise<void> | undefined;
  private lastFacts: { machine: MachineFacts; sqlInstances: SqlInstanceFacts[] } | undefined;
  /** Delivery faults of the playback in progress (issue #7 test runs); undefined in normal operation. */
  private faults: FaultInjector | undefined;

  constructor(private readonly options: AgentOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.random = options.random ?? Math.random;
    this.runner = new ScenarioRunner({ play: (req, signal) => this.playRun(req, signal), logger: this.logger, scheduleJob: options.scheduleJob });
  }

  get agentId(): string | undefined {
    return this.identity?.agentId;
  }

  get connected(): boolean {
    return this.registered;
  }

  /** Enrolls if needed, then connects (and keeps reconnecting until `stop`). */
  async start(): Promise<void> {
    this.identity = loadIdentity(this.options.stateDir);
    if (!this.identity) await this.enroll();
    void this.connect();
    if (this.options.schedules?.length) this.runner.schedule(this.options.schedules);
  }

  /** Resolves on the next `registered` from the control plane. */
  waitRegistered(): Promise<MessageOf<'registered'>> {
    return new Promise((resolve) => this.once('registered', resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.runner.stop();
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
        setTimeout(() => { ws.terminate(); resolve(); }, 1000).unref();
      });
    }
  }

  /** Events not yet acked by the control plane. */
  pendingEvents(): number {
    return this.outbox.pending();
  }

  private async enroll(): Promise<void> {
    const token = this.options.token;
    if (!token) {
      throw new Error(
        `agent is not enrolled (no identity in ${this.options.stateDir}) and no enrollment token was given; ` +
          'create one with "arcsim token create --subscription S --resource-group RG" and pass it with --token',
      );
    }
    const facts = await this.facts();
    const res = await fetch(new URL('/api/enroll', this.options.controlPlane), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, hostname: facts.machine.hostname }),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, string>;
    if (res.status !== 201) throw new Error(`enrollment refused: ${body.code ?? res.status} ${body.message ?? ''}`.trim());
    this.identity = {
      agentId: body.agentId!, agentKey: body.agentKey!, controlPlane: this.options.controlPlane,
      subscription: body.subscription, resourceGroup: body.resourceGroup, enrolledAt: new Date(this.clock.now()).toISOString(),
    };
    saveIdentity(this.options.stateDir, this.identity);
    this.logger.info('enrolled', { agentId: this.identity.agentId });
  }

  /** Collects host facts (fresh on every connect; plays reuse the last registered ones). */
  private async facts(): Promise<{ machine: MachineFacts; sqlInstances: SqlInstanceFacts[] }> {
    const facts = await (this.options.facts ? this.options.facts() : collectHostFacts().then((machine) => ({ machine, sqlInstances: [] })));
    this.lastFacts = facts;
    return facts;
  }

  private async connect(): Promise<void> {
    if (this.reenrolling) await this.reenrolling;
    if (this.stopped || !this.identity) return;
    const url = new URL('/agent/v1', this.options.controlPlane);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.identity.agentId}.${this.identity.agentKey}` },
      maxPayload: LIMITS.maxFrameBytes,
      handshakeTimeout: LIMITS.handshakeTimeoutMs,
    });
    this.ws = ws;
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        this.reenrolling = this.refused(res.statusCode ?? 0, text).finally(() => (this.reenrolling = undefined));
        ws.terminate();
      });
    });
    ws.on('open', async () => {
      this.attempt = 0;
      try {
        const f = await this.facts();
        ws.send(encodeFrame('register', { machine: f.machine, sqlInstances: f.sqlInstances }));
      } catch (err) {
        this.logger.error('could not collect host facts', { error: String(err) });
        ws.close();
      }
    });
    ws.on('message', (data) => this.onFrame(data.toString()));
    ws.on('close', (code, reason) => {
      this.registered = false;
      clearInterval(this.heartbeatTimer);
      this.emit('disconnected', code, reason.toString());
      this.scheduleReconnect();
    });
    ws.on('error', (err) => this.logger.warn('connection error', { error: err.message }));
  }

  /** The upgrade was refused: `node_invalid` means the control plane forgot us, so enroll again. */
  private async refused(status: number, body: string): Promise<void> {
    let code = '';
    try {
      code = (JSON.parse(body) as { code?: string }).code ?? '';
    } catch { /* not JSON */ }
    this.logger.warn('connection refused', { status, code });
    if (status === 401 && (code === 'ARCSIM_E_NODE_INVALID' || code === 'ARCSIM_E_AGENT_AUTH')) {
      if (!this.options.token) {
        this.logger.error(`the control plane does not accept this agent's identity (${code}); no token to re-enroll with: run the agent again with --token`);
        this.stopped = true;
        this.emit('fatal', new Error(code));
        return;
      }
      forgetIdentity(this.options.stateDir);
      try {
        await this.enroll();
      } catch (err) {
        this.logger.error('re-enrollment failed', { error: String(err) });
        this.stopped = true;
        this.emit('fatal', err);
      }
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const min = this.options.backoffMinMs ?? 500;
    const max = this.options.backoffMaxMs ?? 30_000;
    // Full jitter: a random delay up to the exponential bound, so many agents do not reconnect in step.
    const bound = Math.min(max, min * 2 ** this.attempt++);
    const delay = Math.max(min / 2, Math.floor(this.random() * bound));
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private onFrame(text: string): void {
    const decoded = decodeFrame(text, SERVER_TO_AGENT);
    if (!decoded.ok) {
      this.logger.warn('bad frame from control plane', { error: decoded.error.message });
      return;
    }
    const msg = decoded.message;
    switch (msg.type) {
      case 'registered':
        this.registered = true;
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), msg.heartbeatIntervalSec * 1000);
        this.heartbeatTimer.unref();
        // Resend whatever the previous connection left unacked, in order, then continue.
        for (const b of this.outbox.unacked()) this.sendBatch(b);
        this.flush();
        this.emit('registered', msg);
        return;
      case 'ack':
        this.outbox.ack(msg.seq);
        this.emit('ack', msg);
        this.flush();
        return;
      case 'error':
        this.logger.warn('control plane reported an error', { code: msg.code, message: msg.message, ref: msg.ref });
        this.emit('error-frame', msg);
        if (typeof msg.ref === 'number' && msg.code === 'ARCSIM_E_RATE_LIMITED') {
          const batch = this.outbox.unacked().find((b) => b.seq === msg.ref);
          if (batch) setTimeout(() => this.sendBatch(batch), 1000).unref();
        }
        return;
      case 'command':
        void this.onCommand(msg);
        return;
    }
  }

  private sendHeartbeat(): void {
    if (this.registered) this.ws?.send(encodeFrame('heartbeat', { time: new Date(this.clock.now()).toISOString() }));
  }

  private sendBatch(b: { seq: number; events: unknown[] }): void {
    if (!this.registered || this.ws?.readyState !== WebSocket.OPEN) return;
    // Events were schema-checked by the player; build the frame directly (hot path).
    const frame = JSON.stringify({ v: 1, type: 'events', seq: b.seq, events: b.events });
    const ws = this.ws;
    // FAULT SEAM (issue #7): during a fault-injected playback the frame goes through the injector
    // (delay / send twice / drop the socket after it); otherwise this is a plain send.
    if (this.faults) return this.faults.send(frame, { send: (f) => ws.readyState === WebSocket.OPEN && ws.send(f), drop: () => ws.terminate() });
    ws.send(frame);
  }

  /** Sends queued events while the in-flight window allows. */
  private flush(): void {
    const window = this.options.maxInflightBatches ?? 8;
    while (this.registered && this.outbox.inflightCount() < window) {
      const b = this.outbox.take(this.faults?.batchSize ?? LIMITS.maxEventsPerBatch);
      if (!b) return;
      this.sendBatch(b);
    }
  }

  private async onCommand(msg: MessageOf<'command'>): Promise<void> {
    const c = msg.command;
    const reply = (body: Omit<MessageOf<'command-result'>, 'v' | 'type' | 'id'>) => {
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeFrame('command-result', { id: msg.id, ...body }));
    };
    if (c.action === 'cancel-scenario') {
      const found = this.runner.cancel(c.detonationId);
      reply({ ok: found, detonationId: c.detonationId, message: found ? 'cancelled; its cleanup phase plays' : 'no such run is playing' });
      return;
    }
    if (c.action !== 'run-scenario') {
      reply({ ok: false, message: `action ${c.action} is not supported by this agent yet` });
      return;
    }
    try {
      const scenario = validateScenario(c.scenario, 'command.scenario');
      const r = (await this.runner.run({ ...c, scenario, source: 'command' }, 'wait'))!;
      reply({ ok: !r.failure && !r.cancelled, detonationId: c.detonationId, events: r.released, message: r.failure || r.cancelled ? describeRun(r) : undefined });
    } catch (err) {
      reply({ ok: false, detonationId: c.detonationId, message: (err as Error).message });
    }
  }

  // ---- scenario playback (issue #4) ----

  /** Queues events for delivery and sends what the in-flight window allows. */
  enqueue(events: SensorEvent[]): void {
    this.outbox.push(events);
    this.flush();
  }

  /** Resolves once every queued event has been acked. */
  drained(): Promise<void> {
    return this.outbox.drained();
  }

  /**
   * Plays a scenario now (waiting for the host's current run) and returns the events sent.
   * Throws, after its cleanup has played, when the warmup or detonation failed or was cancelled.
   */
  async play(
    c: Pick<RunCommand, 'scenario' | 'detonationId'> & Partial<Pick<RunCommand, 'variant' | 'seed' | 'speed' | 'inputs' | 'allowOverlap' | 'faults'>>,
  ): Promise<number> {
    const scenario = validateScenario(c.scenario, 'command.scenario');
    const r = (await this.runner.run({ ...c, variant: c.variant ?? 'attack', scenario, source: 'api' }, 'wait'))!;
    if (r.failure || r.cancelled) throw new Error(describeRun(r));
    return r.released;
  }

  /**
   * One run: plans every phase (pure, deterministic), releases the events at `speed` (0 = at
   * once; timestamps keep their original spacing and are placed so none lies in the future),
   * and waits for every ack. The cleanup phase is released even when the run fails or is aborted.
   */
  async playRun(req: RunRequest, signal?: AbortSignal): Promise<ReleaseResult> {
    if (!this.identity) throw new Error('agent is not enrolled');
    const facts = this.lastFacts ?? (await this.facts());
    const speed = req.speed ?? 0;
    const options = {
      variant: req.variant, seed: req.seed, detonationId: req.detonationId, inputs: req.inputs,
      device: { id: this.identity.agentId, name: facts.machine.hostname },
    };
    const now = this.clock.now();
    const span = planRun(req.scenario, { ...options, startTime: now }).spanMs;
    const plan = planRun(req.scenario, { ...options, startTime: warpedStart(now, span, speed) });
    // FAULT SEAM (issue #7): a run-scenario command may carry delivery faults for this playback only.
    this.faults = req.faults ? new FaultInjector(req.faults, req.seed ?? req.detonationId) : undefined;
    if (this.faults) plan.events = this.faults.arrange(plan.events);
    try {
      const result = await releasePlan(plan, { speed, signal, sink: (events) => this.enqueue(events) });
      await this.drained();
      return result;
    } finally {
      this.faults = undefined;
    }
  }
}

/** One line on how a failed or cancelled run ended. */
function describeRun(r: ReleaseResult): string {
  const what = r.failure ? `${r.failure.phase} failed: ${r.failure.code}: ${r.failure.message}` : 'cancelled';
  return `${what}; ${r.byPhase.warmup + r.byPhase.detonate} events played before, cleanup played ${r.byPhase.cleanup}`;
}
