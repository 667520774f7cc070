import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { arch as osArch } from 'node:os';
// Types only from protocol/messages.ts and events.ts: an idle agent never evaluates zod (agent/idle-decoder.ts).
import type { MachineFacts, MessageOf, SqlInstanceFacts } from '../protocol/messages.ts';
import type { SensorEvent, TableName } from '../protocol/events.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { ReleaseResult } from '../scenarios/playback.ts';
import { AGENT_DEFAULTS } from './agent-defaults.ts';
import { handleCommand } from './command-handler.ts';
import { Connection } from './connection.ts';
import { deviceStateFingerprint, deviceStateRows } from './device-state.ts';
import { Enrollment } from './enrollment.ts';
import { Extensions } from './extension-state.ts';
import { decodeIdleFrame, encodeHeartbeat, encodeKeyRotated, encodeRegister, fullDecoder, type Decoded } from './idle-decoder.ts';
import type { Identity } from './identity.ts';
import type { Inventory, InventoryOptions } from './inventory.ts';
import { Backoff, busyDelayMs } from './keepalive.ts';
import { Outbox } from './outbox.ts';
import { describeRun, Playback } from './playback.ts';
import type { ScheduleEntry } from './schedule-file.ts';
import type { SoftwareSources } from './software-inventory.ts';
import { snapshotOf, softwareRows, type SoftwareSnapshot } from './software-rows.ts';
import { loadScheduling, ScenarioRunner, type RunRequest, type ScheduleJobFn } from './scheduler.ts';

export interface AgentOptions {
  /** Control-plane base URL, e.g. http://127.0.0.1:7070. */
  controlPlane: string;
  /**
   * PEM of the one CA trusted for an https control plane (pinned, e.g. the lab CA install.sh puts
   * in /etc/arcsim-agent/ca.pem): enrollment and the socket refuse a certificate it did not sign.
   * Default: Node's CA store.
   */
  ca?: string;
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
  /** Random source for backoff jitter (reconnects and batch resends). */
  random?: () => number;
  /** Resend delay bounds of a batch the control plane could not commit (exponential, full jitter), ms. */
  batchRetryMinMs?: number;
  batchRetryMaxMs?: number;
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
  /**
   * Send the MDE state tables (a DeviceInfo row and one DeviceNetworkInfo row per adapter) from
   * the host's facts after registering, when they differ from what this process last sent.
   * Default: true.
   */
  deviceState?: boolean;
  /**
   * Report the host's installed software as DeviceTvmSoftwareInventory rows
   * (agent/software-inventory.ts): after registering and every `intervalMs`, and only when it
   * changed (a digest of the items; between reads, the package database's size and time are
   * checked first, so an unchanged host costs one stat). A persona's `software` replaces the
   * host's. Default: off here; `arcsim agent run`, the agent service and the lab turn it on.
   */
  softwareInventory?: {
    intervalMs?: number;
    sources?: SoftwareSources;
    /** Pause between two slices of a snapshot, ms (default AGENT_DEFAULTS.softwareSlicePauseMs). */
    slicePauseMs?: number;
    /** Reads the software elsewhere (the service: a child process, agent/inventory-child.ts); default: in this process. */
    runner?: () => Promise<SoftwareSnapshot>;
  };
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
 * cap. Emits `registered`, `ack`, `error-frame`, `disconnected`, `spooled` (event), `key-rotated`,
 * `extensions` (list), `dropped`, `flood`, `retry` (a refused batch is resent later),
 * `fatal` (error: the agent stopped for good).
 *
 * It composes one part per duty: Enrollment (identity), Connection (socket and ping liveness),
 * Backoff (reconnect delays), Outbox (spool pump), handleCommand (commands), Playback (scenarios).
 */
export class Agent extends EventEmitter {
  private connection: Connection | undefined;
  private registered = false;
  private stopped = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** The delay the control plane advised with its last ARCSIM_E_BUSY refusal, ms (used once). */
  private busyRetryAfterMs: number | undefined;
  private outbox: Outbox | undefined;
  private extensions: Extensions | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly enrollment: Enrollment;
  private readonly backoff: Backoff;
  private readonly playback: Playback;
  /** Plays scenarios on this host, never overlapping unless allowed (commands and cron). */
  readonly runner: ScenarioRunner;
  private lastFacts: { machine: MachineFacts; sqlInstances: SqlInstanceFacts[] } | undefined;
  private heartbeatSec = 0;
  /** Frames waiting behind one the zod decoder is deciding (kept in arrival order); undefined when none. */
  private frameQueue: Promise<void> | undefined;
  private lastHeartbeatAt = 0;
  /** What the last DeviceInfo / DeviceNetworkInfo rows sent said (deviceStateFingerprint). */
  private lastDeviceState: string | undefined;
  /** Digest of the software last sent, and the package databases' size and time when it was read. */
  private lastSoftware: { digest?: string; stat?: string } = {};
  private softwareTimer: NodeJS.Timeout | undefined;
  private softwareBusy = false;
  private readonly stoppedSignal: Promise<void>;
  private signalStopped!: () => void;

  constructor(private readonly options: AgentOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.stoppedSignal = new Promise((resolve) => (this.signalStopped = resolve));
    this.backoff = new Backoff({
      minMs: options.backoffMinMs ?? AGENT_DEFAULTS.backoffMinMs, maxMs: options.backoffMaxMs ?? AGENT_DEFAULTS.backoffMaxMs, random: options.random ?? Math.random,
    });
    this.enrollment = new Enrollment({
      controlPlane: options.controlPlane, ca: options.ca, token: options.token, stateDir: options.stateDir, clock: this.clock, logger: this.logger,
      hostname: async () => (await this.facts()).machine.hostname,
      fatal: (err) => {
        this.stopped = true;
        this.emit('fatal', err);
      },
    });
    this.playback = new Playback({
      clock: this.clock, logger: this.logger,
      device: async () => ({ id: this.started().identity.agentId, machine: (this.lastFacts ?? (await this.facts())).machine }),
      outbox: () => this.started().outbox,
      extensions: () => this.started().extensions,
      spooled: (e) => this.emit('spooled', e),
      stopped: this.stoppedSignal,
      isStopped: () => this.stopped,
    });
    this.runner = new ScenarioRunner({ play: (req, signal) => this.playRun(req, signal), logger: this.logger, scheduleJob: options.scheduleJob });
  }

  get identity(): Identity | undefined {
    return this.enrollment.identity;
  }

  get agentId(): string | undefined {
    return this.identity?.agentId;
  }

  /** True once `stop` was called or the agent stopped for good (`fatal`). */
  get isStopped(): boolean {
    return this.stopped;
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
    await this.enrollment.ensure();
    this.openState();
    void this.connect();
    if (this.options.schedules?.length) {
      await loadScheduling({ nodeSchedule: !this.options.scheduleJob });
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
    clearInterval(this.heartbeatTimer);
    clearInterval(this.softwareTimer);
    this.outbox?.detach();
    await this.connection?.close(1000);
    // Let a run that is between two events notice the stop before the spool goes away.
    await this.runner.idle().catch(() => undefined);
    this.outbox?.close();
  }

  /** Events not yet acked by the control plane (in the on-disk spool). */
  pendingEvents(): number {
    return this.outbox?.spool.pending() ?? 0;
  }

  /** Most events the spool holds; pushing more before acks arrive drops the oldest. */
  spoolCapacity(): number {
    return this.options.spoolMaxEvents ?? AGENT_DEFAULTS.spoolMaxEvents;
  }

  /** Events dropped because the spool was full (counted since the spool file was created). */
  droppedEvents(): number {
    return this.outbox?.spool.dropped() ?? 0;
  }

  /** Extensions installed on this machine, as the control plane last set them. */
  installedExtensions(): Array<{ name: string; publisher?: string; status: string }> {
    return this.extensions?.list() ?? [];
  }

  /**
   * Queues already-collected events for delivery (a recorded stream being replayed) and sends
   * what the in-flight window allows.
   */
  enqueue(events: SensorEvent[]): void {
    this.started().outbox.push(events);
    for (const e of events) this.emit('spooled', e);
  }

  /** Resolves once every spooled event has been acked (or the agent stops). */
  async drained(): Promise<void> {
    if (this.outbox) await Promise.race([this.outbox.spool.drained(), this.stoppedSignal]);
  }

  /**
   * Plays a scenario now (waiting for the host's current run) and returns the events collected
   * and acked, and those no installed extension collects. Throws, after its cleanup has played,
   * when the warmup or detonation failed or was cancelled.
   */
  async play(c: PlayRequest): Promise<PlayResult> {
    const { validateScenario } = await import('../scenarios/index.ts'); // not evaluated until a scenario comes
    const scenario = validateScenario(c.scenario, 'command.scenario');
    const r = (await this.runner.run({ ...c, variant: c.variant ?? 'attack', scenario, source: 'api' }, 'wait'))!;
    const notCollected = this.playback.takeNotCollected(c.detonationId);
    if (r.failure || r.cancelled) throw new Error(describeRun(r));
    return { events: r.released, notCollected };
  }

  /** One run of the scenario runner (see Playback.run). */
  playRun(req: RunRequest, signal?: AbortSignal): Promise<ReleaseResult> {
    return this.playback.run(req, signal);
  }

  /** The parts that exist once `start` ran; throws before. */
  private started(): { identity: Identity; outbox: Outbox; extensions: Extensions } {
    const identity = this.identity;
    if (!identity || !this.outbox || !this.extensions) throw new Error('agent is not started');
    return { identity, outbox: this.outbox, extensions: this.extensions };
  }

  private openState(): void {
    if (this.outbox) return;
    mkdirSync(this.options.stateDir, { recursive: true, mode: 0o700 });
    chmodSync(this.options.stateDir, 0o700);
    this.outbox = new Outbox({ ...this.options, clock: this.clock, logger: this.logger });
    this.outbox.on('dropped', (d) => {
      this.emit('dropped', d);
      // Loss is news: tell the control plane now (at most once a second) rather than at the next heartbeat.
      if (this.clock.now() - this.lastHeartbeatAt >= 1000) this.heartbeat();
    });
    this.outbox.on('flood', (f) => this.emit('flood', f));
    this.outbox.on('retry', (r) => this.emit('retry', r));
    this.extensions = new Extensions(this.options.stateDir);
  }

  /**
   * Spools the DeviceInfo and DeviceNetworkInfo rows of the facts just registered, unless they
   * say what this process already sent (facts are collected afresh on every connect, so a change
   * shows at the next registration).
   */
  private reportDeviceState(): void {
    if (this.options.deviceState === false || !this.lastFacts || !this.identity || !this.outbox) return;
    const rows = deviceStateRows({
      deviceId: this.identity.agentId, machine: this.lastFacts.machine, extensions: this.extensions?.list() ?? [], time: this.clock.now(),
    });
    const fingerprint = deviceStateFingerprint(rows);
    if (fingerprint === this.lastDeviceState) return;
    this.lastDeviceState = fingerprint;
    this.outbox.push(rows);
  }

  /**
   * Spools the host's installed software as one DeviceTvmSoftwareInventory snapshot when it
   * differs from what this process last sent; true when a snapshot was spooled. What the
   * `softwareInventory` timer runs (after registering and every intervalMs). The reader is loaded
   * on first use (the bundle's cold part); an unchanged package database is not even read.
   */
  async checkSoftware(): Promise<boolean> {
    const o = this.options.softwareInventory;
    if (!o || this.softwareBusy || !this.lastFacts || !this.identity || !this.outbox) return false;
    const declared = o.sources?.declared ?? this.options.inventory?.persona?.software;
    const dbs = declared ? [] : [o.sources?.dpkgStatusPath ?? '/var/lib/dpkg/status', '/var/lib/rpm/rpmdb.sqlite', '/var/lib/rpm/Packages'];
    const stat = dbs.map((p) => { try { const st = statSync(p); return `${p}:${st.size}:${st.mtimeMs}`; } catch { return ''; } }).join('|');
    if (this.lastSoftware.digest !== undefined && stat.replaceAll('|', '') !== '' && stat === this.lastSoftware.stat) return false;
    this.softwareBusy = true;
    try {
      const snapshot = o.runner
        ? await o.runner()
        : snapshotOf(await (await import('./software-inventory.ts')).collectSoftware({ ...o.sources, ...(declared ? { declared, platform: 'aix' as NodeJS.Platform } : {}) }));
      for (const n of snapshot.notes) this.logger.warn(n);
      this.lastSoftware.stat = stat;
      if (snapshot.digest === this.lastSoftware.digest || !this.identity || !this.outbox || !this.lastFacts) return false;
      this.lastSoftware.digest = snapshot.digest;
      // In slices, each acked before the next is built: a whole snapshot at once (hundreds of rows,
      // one large frame) would grow the idle service's heap for good. Only the slice's items are
      // parsed (the child's output stays bytes until then).
      const time = this.clock.now();
      for (let i = 0; i < snapshot.count; i += AGENT_DEFAULTS.softwareSliceRows) {
        if (this.stopped || !this.identity || !this.outbox || !this.lastFacts) return false;
        let items;
        try {
          items = snapshot.items(i, AGENT_DEFAULTS.softwareSliceRows);
        } catch (err) {
          // Not sent whole: the next check sends it again (the control plane passes over an incomplete snapshot).
          this.lastSoftware.digest = undefined;
          throw err;
        }
        const rows = softwareRows({ deviceId: this.identity.agentId, machine: this.lastFacts.machine, items, time, arch: osArch(), first: i, total: snapshot.count });
        this.outbox.push(rows);
        await Promise.race([this.outbox.spool.drained(), this.stoppedSignal]);
        // A pause between slices keeps the allocation rate low, so the heap shrinks back afterwards (AGENT_DEFAULTS).
        const pauseMs = o.slicePauseMs ?? AGENT_DEFAULTS.softwareSlicePauseMs;
        if (pauseMs > 0 && i + AGENT_DEFAULTS.softwareSliceRows < snapshot.count) {
          await Promise.race([new Promise<void>((resolve) => setTimeout(resolve, pauseMs).unref()), this.stoppedSignal]);
        }
      }
      this.logger.info('software inventory sent', { items: snapshot.count });
      return true;
    } catch (err) {
      this.logger.error('software inventory failed', { error: (err as Error).message });
      return false;
    } finally {
      this.softwareBusy = false;
    }
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
    await this.enrollment.settled();
    const identity = this.identity;
    if (this.stopped || !identity) return;
    // Only the current connection drives the agent: a stale one closing must not start a second one.
    const conn: Connection = new Connection({
      controlPlane: this.options.controlPlane, ca: this.options.ca, identity, pingIntervalMs: this.options.pingIntervalMs ?? AGENT_DEFAULTS.pingIntervalMs,
    }, {
      refused: (status, body) => {
        const busy = busyRefusal(body);
        if (busy !== undefined) {
          this.busyRetryAfterMs = busy;
          this.logger.warn('control plane busy; reconnecting later', { retryAfterMs: busy });
          return;
        }
        this.enrollment.refused(status, body);
      },
      open: () => {
        this.backoff.reset();
        this.facts()
          .then(async (f) => {
            const body = { machine: f.machine, sqlInstances: f.sqlInstances, extensions: this.extensions?.list() };
            // Checked by hand; facts the hand check refuses go to zod, which throws with the reason.
            return encodeRegister(body) ?? (await import('../protocol/messages.ts')).encodeFrame('register', body);
          })
          .then(
            (frame) => conn.send(frame),
            (err) => {
              this.logger.error('could not collect host facts', { error: String(err) });
              void conn.close();
            },
          );
      },
      frame: (text) => (this.connection === conn ? this.onFrame(text) : undefined),
      dead: () => this.logger.warn('control plane stopped answering pings; reconnecting'),
      error: (err) => this.logger.warn('connection error', { error: err.message }),
      closed: (code, reason, lastError) => {
        if (this.connection === conn) this.onClosed(code, reason, lastError);
      },
    });
    this.connection = conn;
  }

  private onClosed(code: number, reason: string, lastError: string | undefined): void {
    this.registered = false;
    clearInterval(this.heartbeatTimer);
    this.outbox?.detach();
    this.emit('disconnected', code, reason);
    if (code === 4410 || lastError === 'ARCSIM_E_IDENTITY_CLONED') {
      void this.enrollment.cloned().then(() => this.scheduleReconnect());
      return;
    }
    if (code === 4401 || lastError === 'ARCSIM_E_AGENT_REVOKED') {
      this.enrollment.revoked(); // fatal: stops, no reconnect, no re-enrollment
      return;
    }
    if (code === 4409 || lastError === 'ARCSIM_E_REPLACED') {
      // Our own reconnects never reach here (a stale socket is ignored): another process took over.
      this.logger.error('another agent process on this host connected with the same identity and took over; stopping (run one agent per state dir)');
      this.stopped = true;
      this.emit('fatal', new Error('ARCSIM_E_REPLACED: another agent process with this identity took over'));
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    const busy = this.busyRetryAfterMs;
    this.busyRetryAfterMs = undefined;
    // A BUSY refusal carries our turn: follow it, and leave the failure backoff where it was. The
    // floor (half the least backoff, as Backoff's own) guards against a server advising 0.
    const floorMs = (this.options.backoffMinMs ?? AGENT_DEFAULTS.backoffMinMs) / 2;
    const delay = busy === undefined ? this.backoff.next() : busyDelayMs(busy, floorMs, this.options.random ?? Math.random);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  /** Handles one frame; returns the code of an `error` frame (the close that may follow depends on it). */
  private onFrame(text: string): string | undefined {
    const conn = this.connection;
    const fast = this.frameQueue ? undefined : decodeIdleFrame(text);
    if (fast) return this.onDecoded(fast);
    // Uncommon (a run-scenario command) or refused by the hand checks: zod decides, loaded on the
    // first such frame; frames that arrive meanwhile wait behind it, so the order is kept.
    const queued: Promise<void> = (this.frameQueue ?? Promise.resolve())
      .then(async () => {
        if (this.connection !== conn) return;
        this.onDecoded(decodeIdleFrame(text) ?? (await fullDecoder())(text));
      })
      .catch((err: unknown) => {
        this.logger.error('could not decode a frame from the control plane', { error: String(err) });
      })
      .finally(() => {
        if (this.frameQueue === queued) this.frameQueue = undefined;
      });
    this.frameQueue = queued;
    return undefined;
  }

  private onDecoded(decoded: Decoded): string | undefined {
    if (!decoded.ok) {
      this.logger.warn('bad frame from control plane', { error: decoded.error.message });
      return undefined;
    }
    const msg = decoded.message;
    switch (msg.type) {
      case 'registered': {
        this.registered = true;
        this.extensions?.replace(msg.extensions);
        this.emit('extensions', this.installedExtensions());
        this.setHeartbeat(msg.heartbeatIntervalSec);
        const conn = this.connection!;
        this.outbox?.attach({ send: (f) => conn.send(f), drop: () => conn.terminate() });
        this.reportDeviceState();
        if (this.options.softwareInventory) {
          void this.checkSoftware();
          if (!this.softwareTimer) {
            this.softwareTimer = setInterval(() => void this.checkSoftware(), this.options.softwareInventory.intervalMs ?? AGENT_DEFAULTS.softwareInventoryIntervalMs);
            this.softwareTimer.unref();
          }
        }
        this.emit('registered', msg);
        return undefined;
      }
      case 'ack':
        this.outbox?.ack(msg.seq);
        this.emit('ack', msg);
        return undefined;
      case 'error':
        this.logger.warn('control plane reported an error', { code: msg.code, message: msg.message, ref: msg.ref });
        this.emit('error-frame', msg);
        if (msg.code === 'ARCSIM_E_BUSY') this.busyRetryAfterMs = msg.retryAfterMs ?? AGENT_DEFAULTS.backoffMinMs;
        if (typeof msg.ref === 'number') this.outbox?.refused(msg.ref, { code: msg.code, retryable: msg.retryable, retryAfterMs: msg.retryAfterMs });
        return msg.code;
      case 'command':
        void this.onCommand(msg);
        return undefined;
      case 'rotate-key':
        this.onRotateKey(msg);
        return undefined;
      case 'deregistered':
        return undefined; // only `arcsim agent uninstall` deregisters (agent/deregister.ts)
    }
    return undefined;
  }

  /** Stores the new key durably, then acknowledges: only then does the control plane drop the old one. */
  private onRotateKey(msg: MessageOf<'rotate-key'>): void {
    try {
      this.enrollment.rotated(msg.agentKey);
    } catch (err) {
      // Not acknowledged: the control plane keeps the old key, which this agent still has.
      this.logger.error('could not store the rotated agent key; keeping the old one', { error: (err as Error).message });
      return;
    }
    this.connection?.send(encodeKeyRotated(msg.id));
    this.emit('key-rotated');
  }

  private setHeartbeat(sec: number): void {
    this.heartbeatSec = sec;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), sec * 1000);
    this.heartbeatTimer.unref();
  }

  /** Sends a heartbeat, carrying the spool's drop total and depth, when registered. */
  private heartbeat(): void {
    if (!this.registered) return;
    this.lastHeartbeatAt = this.clock.now();
    this.connection?.send(encodeHeartbeat(new Date(this.lastHeartbeatAt), this.droppedEvents(), this.pendingEvents()));
  }

  private async onCommand(msg: MessageOf<'command'>): Promise<void> {
    const { extensions } = this.started();
    const reply = await handleCommand(msg, {
      logger: this.logger, extensions, runner: this.runner, playback: this.playback,
      heartbeat: (sec) => {
        if (sec) this.setHeartbeat(sec);
        return this.heartbeatSec;
      },
      extensionsChanged: () => this.emit('extensions', this.installedExtensions()),
    });
    // Not at idle: commands are rare, and the zod encoder checks the result (loaded on the first one).
    const { encodeFrame } = await import('../protocol/messages.ts');
    this.connection?.send(encodeFrame('command-result', { id: msg.id, ...reply }));
  }
}

/** The advised delay of an upgrade refused with ARCSIM_E_BUSY (HTTP 503), or undefined for any other refusal. */
function busyRefusal(body: string): number | undefined {
  try {
    const b = JSON.parse(body) as { code?: unknown; retryAfterMs?: unknown };
    if (b.code !== 'ARCSIM_E_BUSY') return undefined;
    return typeof b.retryAfterMs === 'number' && b.retryAfterMs >= 0 ? b.retryAfterMs : AGENT_DEFAULTS.backoffMinMs;
  } catch {
    return undefined;
  }
}
