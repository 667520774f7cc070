/**
 * Child-process entry (forked by full-path.ts, never run directly): K raw WebSocket agents
 * that register, then stream their pre-encoded `events` frames with a window of frames in
 * flight, timing each batch from send to ack. Talks to its parent only over IPC.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { FleetAgentPlan, FleetResult, FromFleet, ToFleet } from './fleet-messages.ts';

/** No ack from any agent for this long means the control plane is stuck, ms. */
const STALL_MS = 30_000;
/** Waiting for `registered` longer than this fails the run, ms. */
const REGISTER_TIMEOUT_MS = 15_000;

interface AgentStats {
  latenciesMs: number[];
  agentFinishMs: number[];
  batchesAcked: number;
  storedAcked: number;
  errors: string[];
}

/** One agent: one socket, frames sent in order with at most `window` unacked. */
class BenchAgent {
  private ws: WebSocket | undefined;
  private next = 0;
  private inFlight = 0;
  private finished = false;
  private readonly sentAt: number[];
  private window = 1;
  /** Frames per millisecond when paced; 0 = unpaced. */
  private framesPerMs = 0;
  private paceTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private onFinish: () => void = () => {};
  /** Send -> ack time of this agent's batches, ms. */
  readonly latenciesMs: number[] = [];
  /** Time of this agent's latest ack, for the stall watchdog. */
  lastProgress = performance.now();

  constructor(private readonly plan: FleetAgentPlan, private readonly stats: AgentStats) {
    this.sentAt = new Array<number>(plan.frames.length).fill(0);
  }

  /** Opens the socket and completes the `register` -> `registered` handshake. */
  connect(wsUrl: string): Promise<void> {
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${this.plan.agentId}.${this.plan.agentKey}` } });
    this.ws = ws;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.plan.hostname}: no registered reply in ${REGISTER_TIMEOUT_MS} ms`)), REGISTER_TIMEOUT_MS);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`${this.plan.hostname}: upgrade refused with HTTP ${res.statusCode}`)));
      ws.once('error', reject);
      ws.once('open', () => ws.send(JSON.stringify(registerFrame(this.plan.hostname))));
      ws.once('message', (data) => {
        clearTimeout(timer);
        const msg = JSON.parse(String(data)) as { type: string; code?: string; message?: string };
        if (msg.type !== 'registered') return reject(new Error(`${this.plan.hostname}: expected registered, got ${String(data)}`));
        ws.on('message', (frame) => this.onMessage(String(frame)));
        ws.on('error', (err) => this.fail(`socket error: ${err.message}`));
        ws.on('close', (code, reason) => {
          if (!this.finished) this.fail(`socket closed early (${code} ${String(reason)})`);
        });
        resolve();
      });
    });
  }

  /** Sends every frame; resolves once each is acked or refused. */
  run(window: number, eventsPerSecond = 0): Promise<void> {
    return new Promise((resolve) => {
      this.onFinish = resolve;
      this.window = window;
      const perFrame = this.plan.frames.length ? this.plan.events / this.plan.frames.length : 1;
      this.framesPerMs = eventsPerSecond > 0 ? eventsPerSecond / perFrame / 1000 : 0;
      this.startedAt = performance.now();
      this.lastProgress = this.startedAt;
      this.pump();
    });
  }

  private pump(): void {
    // Paced: a frame is due at its place on the rate's timeline; the window still caps what is in flight.
    const due = this.framesPerMs > 0 ? Math.floor((performance.now() - this.startedAt) * this.framesPerMs) + 1 : Number.POSITIVE_INFINITY;
    if (this.framesPerMs > 0 && this.next < this.plan.frames.length && this.next >= due && !this.paceTimer) {
      const wait = Math.max(0, (this.next / this.framesPerMs) - (performance.now() - this.startedAt));
      this.paceTimer = setTimeout(() => { this.paceTimer = undefined; this.pump(); }, wait);
    }
    while (this.inFlight < this.window && this.next < this.plan.frames.length && this.next < due) {
      this.sentAt[this.next] = performance.now();
      this.ws!.send(this.plan.frames[this.next]!);
      this.next++;
      this.inFlight++;
    }
    if (this.inFlight === 0 && this.next === this.plan.frames.length) this.finish();
  }

  private onMessage(text: string): void {
    if (this.finished) return; // after a failure nothing more is sent or counted
    const msg = JSON.parse(text) as { type: string; seq?: number; stored?: number; code?: string; message?: string; path?: string; ref?: unknown };
    const now = performance.now();
    if (msg.type === 'ack' && typeof msg.seq === 'number') {
      const ms = now - this.sentAt[msg.seq - 1]!;
      this.stats.latenciesMs.push(ms);
      this.latenciesMs.push(ms);
      this.stats.batchesAcked++;
      this.stats.storedAcked += msg.stored ?? 0;
    } else if (msg.type === 'error') {
      this.stats.errors.push(`${this.plan.hostname}: ${msg.code} ${msg.message}${msg.path ? ` at ${msg.path}` : ''} (batch ${String(msg.ref)})`);
      // An error about one batch settles that batch; any other error ends this agent.
      if (typeof msg.ref !== 'number') return this.fail('stopped after an error frame without a batch ref');
    } else {
      return; // e.g. a command: not part of this bench.
    }
    this.lastProgress = now;
    this.inFlight--;
    this.pump();
  }

  /** Records why this agent stopped and settles its run. */
  fail(reason: string): void {
    if (this.finished) return;
    this.stats.errors.push(`${this.plan.hostname}: ${reason}`);
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stats.agentFinishMs.push(performance.now() - this.startedAt);
    this.onFinish();
  }

  get done(): boolean {
    return this.finished;
  }

  close(): void {
    this.finished = true;
    this.ws?.close(1000);
  }
}

/** A `register` frame with little more than MachineFactsSchema requires. */
function registerFrame(hostname: string): object {
  return {
    v: 1,
    type: 'register',
    machine: { hostname, agentVersion: 'bench', osType: 'linux', detectedProperties: {}, cloudMetadata: { provider: 'N/A' } },
    sqlInstances: [],
  };
}

function send(message: FromFleet): void {
  process.send!(message);
}

async function main(plan: Extract<ToFleet, { type: 'plan' }>): Promise<void> {
  const stats: AgentStats = { latenciesMs: [], agentFinishMs: [], batchesAcked: 0, storedAcked: 0, errors: [] };
  const agents = plan.agents.map((a) => new BenchAgent(a, stats));
  await Promise.all(agents.map((a, i) => a.connect(plan.agents[i]!.wsUrl ?? plan.wsUrl)));
  const go = new Promise<void>((resolve) => process.once('message', (m: ToFleet) => m.type === 'go' && resolve()));
  send({ type: 'ready' });
  await go;

  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const watchdog = setInterval(() => {
    for (const a of agents) if (!a.done && performance.now() - a.lastProgress > STALL_MS) a.fail(`no ack for ${STALL_MS / 1000} s`);
  }, 1000);
  await Promise.all(agents.map((a, i) => a.run(plan.window, plan.agents[i]!.rate ?? plan.rate)));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  clearInterval(watchdog);

  const result: FleetResult = { elapsedMs, ...stats, agentLatenciesMs: agents.map((a) => a.latenciesMs), cpuMs: (cpu.user + cpu.system) / 1000 };
  send({ type: 'done', result });
  for (const a of agents) a.close();
  process.disconnect();
}

if (!process.send) {
  console.error('bench/agent-fleet.ts is started by bench/run.ts (npm run bench), not directly.');
  process.exitCode = 2;
} else {
  process.once('message', (m: ToFleet) => {
    if (m.type !== 'plan') return;
    main(m).catch((err: unknown) => {
      send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      process.disconnect();
      process.exit(1);
    });
  });
}
