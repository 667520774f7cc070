import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import {
  decodeFrame, encodeFrame, isExtensionName, LIMITS, SERVER_TO_AGENT,
  type MachineFacts, type MessageOf, type SensorEvent, type SqlInstanceFacts, type TableName,
} from '../protocol/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { planRun, validateScenario } from '../scenarios/index.ts';
import { releasePlan, warpedStart, type ReleaseResult } from '../scenarios/playback.ts';
import { loadNodeSchedule, ScenarioRunner, type RunRequest, type ScheduleEntry, type ScheduleJobFn } from './scheduler.ts';
import { FaultInjector } from './fault-injector.ts';
import { AGENT_DEFAULTS } from './agent-config.ts';
import { Extensions } from './extension-state.ts';
import { forgetIdentity, loadIdentity, type Identity } from './identity.ts';
import { enrollWithToken } from './enroll.ts';
import type { Inventory, InventoryOptions } from './inventory.ts';
import { TokenBucket } from './rate-limiter.ts';
import { Spool, type Batch } from './spool.ts';

export interface AgentOptions {
  /** Control-plane base URL, e.g. http://127.0.0.1:7070. */
  controlPlane: string;
  /** Enrollment token; needed for the first start and to re-enroll after `node_invalid`. */
  token?: string;
  stateDir: string;
  clock?: Clock;
  logger?: Logger;
  /** Host facts to register; defaults to the inventory of the real host (see `inventory`). */
  facts?: () => Promise<{ machine: MachineFacts; sqlInstances: SqlInstanceFacts[] }>;
  /** How the real host's inventory is taken (persona, metadata URLs, DMI root, declared SQL). */
  inventory?: InventoryOptions;
  /**
   * Takes the inventory somewhere else than in this process: the agent service runs it in a
   * short-lived child (agent/inventory-child.ts) so it never loads systeminformation. When it
   * fails, the error is logged and the inventory is taken in this process. Default: in-process.
   */
  inventoryRunner?: (options: InventoryOptions) => Promise<Inventory>;
  /** Reconnect backoff bounds, ms. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Most batches sent and not yet acked. */
  maxInflightBatches?: number;
  /** Random source for backoff jitter. */
  random?: () => number;
  /** Spool bound, events (default 5000, Wazuh's client buffer). */
  spoolMaxEvents?: number;
  /** Send rate cap, events per second (default 500, Wazuh's EPS) and burst, events. */
  eventsPerSecond?: number;
  eventsBurst?: number;
  /** Client ping interval; no pong or frame by the next ping means the server is gone, ms. */
  pingIntervalMs?: number;
  /** Cron schedules of scenario runs (agent/scheduler.ts). */
  schedules?: ScheduleEntry[];
  /** Starts cron jobs; defaults to node-schedule (tests fire jobs by hand). */
  scheduleJob?: ScheduleJobFn;
}

type RunCommand = Extract<MessageOf<'command'>['command'], { action: 'run-scenario' }>;
export type PlayRequest = Pick<RunCommand, 'scenario' | 'detonationId'> & Partial<Pick<RunCommand, 'variant' | 'seed' | 'speed' | 'inputs' | 'allowOverlap' | 'faults'>>;

export interface PlayResult {
  /** Events collected by an installed sensor, spooled and acked. */
  events: number;
  /** Events the scenario produced that no installed extension collects, per table. */
  notCollected: Partial<Record<TableName, number>>;
}

/**
 * The arcsim agent: enrolls once, connects, registers the host, heartbeats, and plays the
 * scenarios it is told to play as synthetic events. It never executes scenario content.
 * Events go through an on-disk spool (at least once, in order, removed on ack) and a send-rate
 * cap. Emits `registered`, `ack`, `error-frame`, `disconnected`, `spooled` (event),
 * `extensions` (list), `dropped`, `flood`, `fatal` (error: the agent stopped for good).
 */
export class Agent extends EventEmitter {
  identity: Identity | undefined;
  private ws: WebSocket | undefined;
  private registered = false;
  private stopped = false;
  private attempt = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private spool: Spool | undefined;
  private extensions: Extensions | undefined;
  private readonly bucket: TokenBucket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  /** Plays scenarios on this host, never overlapping unless allowed (commands and cron). */
  readonly runner: ScenarioRunner;
  /** Per run in progress: events no installed extension collects, per table. */
  private readonly notCollected = new Map<string, Partial<Record<TableName, number>>>();
  /** Delivery faults of the playback in progress (issue #7 test runs); undefined in normal operation. */
  private faults: FaultInjector | undefined;
  /** Set while a refused identity is being replaced; the next connect waits for it. */
  private reenrolling: Promise<void> | undefined;
  private lastFacts: { machine: MachineFacts; sqlInstances: SqlInstanceFacts[] } | undefined;
  private heartbeatSec = 0;
  private readonly stoppedSignal: Promise<void>;
  private signalStopped!: () => void;

  constructor(private readonly options: AgentOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.random = options.random ?? Math.random;
    const eps = options.eventsPerSecond ?? AGENT_DEFAULTS.eventsPerSecond;
    this.bucket = new TokenBucket(eps, Math.max(eps, options.eventsBurst ?? AGENT_DEFAULTS.eventsBurst), this.clock);
    this.stoppedSignal = new Promise((resolve) => (this.signalStopped = resolve));
    this.runner = new ScenarioRunner({ play: (req, signal) => this.playRun(req, signal), logger: this.logger, scheduleJob: options.scheduleJob });
  }

  get agentId(): string | undefined {
    return this.identity?.agentId;
  }

  get connected(): boolean {
    return this.registered;
  }

  /** Heartbeat interval the control plane asked for, seconds (0 before the first `registered`). */
  get heartbeatIntervalSec(): number {
    return this.heartbeatSec;
  }

  /** Opens the state dir (0700) and spool, enrolls if needed, then connects (and keeps reconnecting until `stop`). */
  async start(): Promise<void> {
    this.identity = loadIdentity(this.options.stateDir);
    if (!this.identity) await this.enroll();
    this.openState();
    void this.connect();
    if (this.options.schedules?.length) {
      if (!this.options.scheduleJob) await loadNodeSchedule();
      this.runner.schedule(this.options.schedules);
    }
  }

  /** Resolves on the next `registered` from the control plane. */
  waitRegistered(): Promise<MessageOf<'registered'>> {
    return new Promise((resolve) => this.once('registered', resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStopped();
    this.runner.stop();
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
        setTimeout(() => { ws.terminate(); resolve(); }, 1000).unref();
      });
    }
    // Let a run that is between two events notice the stop before the spool goes away.
    await this.runner.idle().catch(() => undefined);
    this.spool?.close();
  }

  /** Events not yet acked by the control plane (in the on-disk spool). */
  pendingEvents(): number {
    return this.spool?.pending() ?? 0;
  }

  /** Events dropped because the spool was full (counted since the spool file was created). */
  droppedEvents(): number {
    return this.spool?.dropped() ?? 0;
  }

  /** Extensions installed on this machine, as the control plane last set them. */
  installedExtensions(): Array<{ name: string; publisher?: string; status: string }> {
    return this.extensions?.list() ?? [];
  }

  private openState(): void {
    if (this.spool) return;
    mkdirSync(this.options.stateDir, { recursive: true, mode: 0o700 });
    chmodSync(this.options.stateDir, 0o700);
    this.spool = new Spool({
      file: join(this.options.stateDir, 'spool.log'),
      maxEvents: this.options.spoolMaxEvents ?? AGENT_DEFAULTS.spoolMaxEvents,
      warnRatio: AGENT_DEFAULTS.spoolWarnRatio,
    });
    this.spool.on('dropped', (d) => {
      this.logger.warn('spool full: dropped the oldest events', d);
      this.emit('dropped', d);
    });
    this.spool.on('flood', (f) => {
      this.logger.warn('spool flooding: events arrive faster than they can be sent', { ...f, eventsPerSecond: this.options.eventsPerSecond ?? AGENT_DEFAULTS.eventsPerSecond });
      this.emit('flood', f);
    });
    this.extensions = new Extensions(this.options.stateDir);
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
    this.identity = await enrollWithToken({
      controlPlane: this.options.controlPlane, token, stateDir: this.options.stateDir, hostname: facts.machine.hostname, clock: this.clock,
    });
    this.logger.info('enrolled', { agentId: this.identity.agentId });
  }

  /** Collects host facts (fresh on every connect; plays reuse the last registered ones). */
  private async facts(): Promise<{ machine: MachineFacts; sqlInstances: SqlInstanceFacts[] }> {
    let facts: { machine: MachineFacts; sqlInstances: SqlInstanceFacts[] };
    if (this.options.facts) {
      facts = await this.options.facts();
    } else {
      const inv = await this.inventory();
      for (const note of inv.notes) this.logger.info(note);
      facts = { machine: inv.machine, sqlInstances: inv.sqlInstances };
    }
    this.lastFacts = facts;
    return facts;
  }

  /** The host inventory: from `inventoryRunner` when given (falling back to in-process when it fails), else in-process. */
  private async inventory(): Promise<Inventory> {
    const options = this.options.inventory ?? {};
    if (this.options.inventoryRunner) {
      try {
        return await this.options.inventoryRunner(options);
      } catch (err) {
        this.logger.error('inventory child process failed; taking the inventory in this process instead (the agent stays larger until V8 collects)', { error: (err as Error).message });
      }
    }
    // Loaded on first use: the agent service normally never needs it (see inventoryRunner).
    const { collectInventory } = await import('./inventory.ts');
    return collectInventory(options);
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
    // Only the current socket drives the agent: a stale one closing must not start a second connection.
    const current = () => this.ws === ws;
    let alive = true;
    let pingTimer: NodeJS.Timeout | undefined;
    let closeError: string | undefined;
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
      // The agent's own liveness check: the server answers pings even when idle, so silence means it is gone.
      pingTimer = setInterval(() => {
        if (!alive) {
          this.logger.warn('control plane stopped answering pings; reconnecting');
          return ws.terminate();
        }
        alive = false;
        ws.ping();
      }, this.options.pingIntervalMs ?? AGENT_DEFAULTS.pingIntervalMs);
      pingTimer.unref();
      try {
        const f = await this.facts();
        ws.send(encodeFrame('register', { machine: f.machine, sqlInstances: f.sqlInstances, extensions: this.extensions?.list() }));
      } catch (err) {
        this.logger.error('could not collect host facts', { error: String(err) });
        ws.close();
      }
    });
    const markAlive = () => (alive = true);
    ws.on('pong', markAlive);
    ws.on('ping', markAlive);
    ws.on('message', (data) => {
      markAlive();
      if (!current()) return;
      const code = this.onFrame(data.toString());
      if (code) closeError = code;
    });
    ws.on('close', (code, reason) => {
      clearInterval(pingTimer);
      if (!current()) return;
      this.registered = false;
      clearInterval(this.heartbeatTimer);
      clearTimeout(this.flushTimer);
      this.emit('disconnected', code, reason.toString());
      if (code === 4410 || closeError === 'ARCSIM_E_IDENTITY_CLONED') return void this.cloned();
      if (code === 4409 || closeError === 'ARCSIM_E_REPLACED') {
        // Our own reconnects never reach here (a stale socket is ignored above): another process took over.
        this.logger.error('another agent process on this host connected with the same identity and took over; stopping (run one agent per state dir)');
        this.stopped = true;
        this.emit('fatal', new Error('ARCSIM_E_REPLACED: another agent process with this identity took over'));
        return;
      }
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
      await this.reenroll(`the control plane does not accept this agent's identity (${code})`, code);
    }
  }

  /** The control plane saw this identity live on another host: this copy must get its own. */
  private cloned(): void {
    const why = 'this agent identity is live on another host (the state dir was copied, or the VM cloned)';
    this.reenrolling = this.reenroll(why, 'ARCSIM_E_IDENTITY_CLONED').finally(() => (this.reenrolling = undefined));
    void this.reenrolling.then(() => this.scheduleReconnect());
  }

  private async reenroll(why: string, code: string): Promise<void> {
    if (!this.options.token) {
      this.logger.error(`${why}; no token to enroll again with: delete ${join(this.options.stateDir, 'identity.json')} and run the agent with --token`);
      this.stopped = true;
      this.emit('fatal', new Error(`${code}: ${why}`));
      return;
    }
    this.logger.warn(`${why}; enrolling again with the token`);
    forgetIdentity(this.options.stateDir);
    try {
      await this.enroll();
    } catch (err) {
      this.logger.error('re-enrollment failed', { error: String(err) });
      this.stopped = true;
      this.emit('fatal', err);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const min = this.options.backoffMinMs ?? AGENT_DEFAULTS.backoffMinMs;
    const max = this.options.backoffMaxMs ?? AGENT_DEFAULTS.backoffMaxMs;
    // Full jitter: a random delay up to the exponential bound, so many agents do not reconnect in step.
    const bound = Math.min(max, min * 2 ** this.attempt++);
    const delay = Math.max(min / 2, Math.floor(this.random() * bound));
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  /** Handles one frame; returns the code of an `error` frame (the close that may follow depends on it). */
  private onFrame(text: string): string | undefined {
    const decoded = decodeFrame(text, SERVER_TO_AGENT);
    if (!decoded.ok) {
      this.logger.warn('bad frame from control plane', { error: decoded.error.message });
      return undefined;
    }
    const msg = decoded.message;
    switch (msg.type) {
      case 'registered':
        this.registered = true;
        this.extensions?.replace(msg.extensions);
        this.emit('extensions', this.installedExtensions());
        this.setHeartbeat(msg.heartbeatIntervalSec);
        // Resend whatever was not acked (by the previous connection or the previous agent run), in order.
        for (const b of this.spool?.unacked() ?? []) this.sendBatch(b);
        this.flush();
        this.emit('registered', msg);
        return undefined;
      case 'ack':
        this.spool?.ack(msg.seq);
        this.emit('ack', msg);
        this.flush();
        return undefined;
      case 'error':
        this.logger.warn('control plane reported an error', { code: msg.code, message: msg.message, ref: msg.ref });
        this.emit('error-frame', msg);
        if (typeof msg.ref === 'number' && msg.code === 'ARCSIM_E_RATE_LIMITED') {
          const batch = this.spool?.unacked().find((b) => b.seq === msg.ref);
          if (batch) setTimeout(() => this.sendBatch(batch), 1000).unref();
        }
        if (typeof msg.ref === 'number' && msg.code === 'ARCSIM_E_EVENT_FOREIGN') {
          // Produced under an identity this agent no longer has (it re-enrolled): they can never be accepted.
          this.logger.warn('dropping a spooled batch produced under a previous agent identity', { seq: msg.ref });
          this.spool?.ack(msg.ref);
          this.flush();
        }
        return msg.code;
      case 'command':
        void this.onCommand(msg);
        return undefined;
    }
    return undefined;
  }

  private setHeartbeat(sec: number): void {
    this.heartbeatSec = sec;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), sec * 1000);
    this.heartbeatTimer.unref();
  }

  private sendHeartbeat(): void {
    if (this.registered && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(encodeFrame('heartbeat', { time: new Date(this.clock.now()).toISOString() }));
    }
  }

  private sendBatch(b: Batch): void {
    if (!this.registered || this.ws?.readyState !== WebSocket.OPEN) return;
    // Events were schema-checked by the player; build the frame directly (hot path).
    const frame = JSON.stringify({ v: 1, type: 'events', seq: b.seq, events: b.events });
    const ws = this.ws;
    // FAULT SEAM (issue #7): during a fault-injected playback the frame goes through the injector
    // (delay / send twice / drop the socket after it); otherwise this is a plain send.
    if (this.faults) return this.faults.send(frame, { send: (f) => ws.readyState === WebSocket.OPEN && ws.send(f), drop: () => ws.terminate() });
    ws.send(frame);
  }

  /** Sends spooled events while the in-flight window and the events-per-second cap allow. */
  private flush(): void {
    const spool = this.spool;
    if (!spool) return;
    const window = this.options.maxInflightBatches ?? AGENT_DEFAULTS.maxInflightBatches;
    while (this.registered && spool.inflightCount() < window) {
      const tokens = this.bucket.available();
      if (tokens < 1) {
        // Over the cap: the events wait in the spool (bounded), and go out as tokens come back.
        if (!this.flushTimer) {
          this.flushTimer = setTimeout(() => { this.flushTimer = undefined; this.flush(); }, Math.max(50, this.bucket.waitMs(1)));
          this.flushTimer.unref();
        }
        return;
      }
      const b = spool.take(Math.min(this.faults?.batchSize ?? LIMITS.maxEventsPerBatch, tokens));
      if (!b) return;
      this.bucket.take(b.events.length);
      this.sendBatch(b);
    }
  }

  private async onCommand(msg: MessageOf<'command'>): Promise<void> {
    const c = msg.command;
    const reply = (body: Omit<MessageOf<'command-result'>, 'v' | 'type' | 'id'>) => {
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeFrame('command-result', { id: msg.id, ...body }));
    };
    if (c.action === 'set-extension') {
      if (!isExtensionName(c.name)) return reply({ ok: false, message: `unknown extension ${c.name}` });
      this.extensions?.set(c.name, c.enabled);
      this.logger.info(`extension ${c.name} ${c.enabled ? 'installed' : 'removed'}`);
      this.emit('extensions', this.installedExtensions());
      return reply({ ok: true, message: `${c.name} ${c.enabled ? 'enabled' : 'disabled'}` });
    }
    if (c.action === 'update-config') {
      if (c.heartbeatIntervalSec) this.setHeartbeat(c.heartbeatIntervalSec);
      return reply({ ok: true, message: `heartbeat every ${this.heartbeatSec} s` });
    }
    if (c.action === 'cancel-scenario') {
      const found = this.runner.cancel(c.detonationId);
      return reply({ ok: found, detonationId: c.detonationId, message: found ? 'cancelled; its cleanup phase plays' : 'no such run is playing' });
    }
    try {
      const scenario = validateScenario(c.scenario, 'command.scenario');
      const r = (await this.runner.run({ ...c, scenario, source: 'command' }, 'wait'))!;
      const notCollected = this.notCollected.get(c.detonationId) ?? {};
      this.notCollected.delete(c.detonationId);
      reply({
        ok: !r.failure && !r.cancelled, detonationId: c.detonationId, events: r.released, notCollected,
        message: r.failure || r.cancelled ? describeRun(r) : undefined,
      });
    } catch (err) {
      reply({ ok: false, detonationId: c.detonationId, message: (err as Error).message });
    }
  }

  /**
   * Queues already-collected events for delivery (a recorded stream being replayed) and sends
   * what the in-flight window allows.
   */
  enqueue(events: SensorEvent[]): void {
    if (!this.spool) throw new Error('agent is not started');
    this.spool.push(events);
    for (const e of events) this.emit('spooled', e);
    this.flush();
  }

  /** Resolves once every spooled event has been acked (or the agent stops). */
  async drained(): Promise<void> {
    if (this.spool) await Promise.race([this.spool.drained(), this.stoppedSignal]);
  }

  /**
   * Plays a scenario now (waiting for the host's current run) and returns the events collected
   * and acked, and those no installed extension collects. Throws, after its cleanup has played,
   * when the warmup or detonation failed or was cancelled.
   */
  async play(c: PlayRequest): Promise<PlayResult> {
    const scenario = validateScenario(c.scenario, 'command.scenario');
    const r = (await this.runner.run({ ...c, variant: c.variant ?? 'attack', scenario, source: 'api' }, 'wait'))!;
    const notCollected = this.notCollected.get(c.detonationId) ?? {};
    this.notCollected.delete(c.detonationId);
    if (r.failure || r.cancelled) throw new Error(describeRun(r));
    return { events: r.released, notCollected };
  }

  /**
   * One run: plans every phase (pure, deterministic), releases the events at `speed` (0 = at
   * once; timestamps keep their original spacing and are placed so none lies in the future),
   * keeps those an installed extension's sensor collects (the rest are counted as not
   * collected), spools them and waits for every ack. Cleanup is released even when the run
   * fails or is aborted. `released` counts the events collected.
   */
  async playRun(req: RunRequest, signal?: AbortSignal): Promise<ReleaseResult> {
    if (!this.identity || !this.spool || !this.extensions) throw new Error('agent is not started');
    const spool = this.spool;
    const extensions = this.extensions;
    const facts = this.lastFacts ?? (await this.facts());
    const speed = req.speed ?? 0;
    const options = {
      variant: req.variant, seed: req.seed, detonationId: req.detonationId, inputs: req.inputs,
      device: { id: this.identity.agentId, name: facts.machine.hostname },
    };
    const now = this.clock.now();
    const span = planRun(req.scenario, { ...options, startTime: now }).spanMs;
    const plan = planRun(req.scenario, { ...options, startTime: warpedStart(now, span, speed) });
    const skipped: Partial<Record<TableName, number>> = {};
    this.notCollected.set(req.detonationId, skipped);
    let collectedCount = 0;
    const sink = (events: SensorEvent[]) => {
      const { collected, notCollected } = extensions.filter(events);
      for (const [table, n] of Object.entries(notCollected)) skipped[table as TableName] = (skipped[table as TableName] ?? 0) + (n ?? 0);
      if (collected.length === 0) return;
      collectedCount += collected.length;
      spool.push(collected);
      for (const e of collected) this.emit('spooled', e);
      this.flush();
    };
    // FAULT SEAM (issue #7): a run-scenario command may carry delivery faults for this playback only.
    this.faults = req.faults ? new FaultInjector(req.faults, req.seed ?? req.detonationId) : undefined;
    if (this.faults) plan.events = this.faults.arrange(plan.events);
    try {
      const result = await releasePlan(plan, { speed, signal, sink });
      if (Object.keys(skipped).length > 0) {
        this.logger.info('events not collected: no installed extension has their sensor', { detonationId: req.detonationId, notCollected: skipped });
      }
      await Promise.race([spool.drained(), this.stoppedSignal]);
      if (this.stopped) throw new Error('agent stopped before every event was acked (they stay in the spool)');
      return { ...result, released: collectedCount };
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
