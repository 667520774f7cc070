import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { AGENT_PATH, createControlPlane, openSqliteStore } from '../control-plane/index.ts';
import { buildWorkload, type AgentWorkload } from './workload.ts';
import { runFleet, type FleetAgentPlan, type FleetResult } from './fleet-messages.ts';
import { machineCpu } from './machine-cpu.ts';
import { mainThreadCpuMs } from './process-cpu.ts';


export interface FullPathResult {
  agents: number;
  eventsSent: number;
  fleet: FleetResult;
  /** `store.countEvents()` after the run. */
  eventsStored: number;
  /** Alert rows (after dedup) and the occurrences folded into them (sum of `count`). */
  alertRows: number;
  alertOccurrences: number;
  expectedDetections: number;
  /** CPU time of the control-plane process during the timed phase, ms (all its threads). */
  serverCpuMs: number;
  /** Share of the timed phase the control plane's event loop was busy, 0..1. */
  serverLoopBusy: number;
  /**
   * CPU time of the control plane's main thread (the writer) during the timed phase, ms (Linux:
   * /proc/self/task; elsewhere its event-loop active time), and the event-loop active time of its
   * ingest worker threads together, ms (wall time: inflated on a busy machine, unlike CPU time).
   */
  serverMainMs: number;
  serverWorkersMs: number;
  /** CPU time other processes on the machine used during the timed phase, ms (machine total minus ours). */
  otherCpuMs: number;
  /** The frames that were sent, for the raw baseline. */
  workload: AgentWorkload[];
}

/**
 * One full-path pass: a fresh SQLite store and control plane on 127.0.0.1, `agents` enrolled
 * over REST, `events` pre-encoded, then streamed over WebSocket by a separate fleet process.
 * Only the streaming is timed. Everything opened here is closed before it returns.
 */
export async function runFullPath(options: {
  dbFile: string; agents: number; events: number; batch: number; window: number; runId: string; rate?: number; rulesDirs?: string[];
  /** Each agent's own event count and pace (events/s), instead of `events` split evenly and `rate` shared. */
  perAgent?: Array<{ events: number; rate: number }>;
  /** Keep the shipped rate limits (the noisy-neighbour pass) instead of lifting them. */
  shippedLimits?: boolean;
  /** limits.ingestWorkers of the control plane (default: its own). */
  ingestWorkers?: number;
}): Promise<FullPathResult> {
  const store = openSqliteStore({ file: options.dbFile });
  // Rate limits raised so the bench measures the pipeline, not the token bucket.
  const workers = options.ingestWorkers === undefined ? {} : { ingestWorkers: options.ingestWorkers };
  const limits = options.shippedLimits ? { limits: workers } : { limits: { maxEventsPerSecond: 1e9, eventsBurst: 1e9, ...workers } };
  const cp = createControlPlane({ store, config: { port: 0, ...limits, ...(options.rulesDirs ? { rulesDirs: options.rulesDirs } : {}) } });
  try {
    const url = await cp.listen();
    const token = await cp.createToken({ subscription: 'bench', resourceGroup: 'bench' });
    const identities = await Promise.all(
      Array.from({ length: options.agents }, (_, i) => enroll(url, token.token, `bench-${options.runId}-${String(i).padStart(2, '0')}`)),
    );
    const workload = buildWorkload(identities, options.perAgent?.map((a) => a.events) ?? options.events, options.batch, options.runId);
    const plans: FleetAgentPlan[] = workload.map((w, i) => ({ ...w, agentKey: identities[i]!.agentKey, ...(options.perAgent ? { rate: options.perAgent[i]!.rate } : {}) }));

    const fleet = await streamFromFleet(`${url.replace(/^http/, 'ws')}${AGENT_PATH}`, plans, options.window, (options.rate ?? 0) / options.agents, () => cp.ingestWorkers());
    const alerts = await store.alerts.listAlerts();
    return {
      agents: options.agents,
      eventsSent: workload.reduce((n, w) => n + w.events, 0),
      fleet: fleet.result,
      eventsStored: await store.events.countEvents(),
      alertRows: alerts.length,
      alertOccurrences: alerts.reduce((n, a) => n + a.count, 0),
      expectedDetections: workload.reduce((n, w) => n + w.expectedDetections, 0),
      serverCpuMs: fleet.serverCpuMs,
      serverLoopBusy: fleet.serverLoopBusy,
      serverMainMs: fleet.serverMainMs,
      serverWorkersMs: fleet.serverWorkersMs,
      otherCpuMs: fleet.otherCpuMs,
      workload,
    };
  } finally {
    await cp.close();
    await store.close();
  }
}

async function enroll(url: string, token: string, hostname: string): Promise<{ agentId: string; agentKey: string; hostname: string }> {
  const res = await fetch(`${url}/api/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, hostname }),
  });
  if (res.status !== 201) throw new Error(`enroll ${hostname}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { agentId: string; agentKey: string };
  return { agentId: body.agentId, agentKey: body.agentKey, hostname };
}

/**
 * Runs the fleet process: hands it the plan, waits until every agent is registered, then
 * starts it and samples this process's CPU and event-loop use over the same span.
 */
async function streamFromFleet(
  wsUrl: string, agents: FleetAgentPlan[], window: number, rate: number, workers: () => Worker[],
): Promise<{ result: FleetResult; serverCpuMs: number; serverLoopBusy: number; serverMainMs: number; serverWorkersMs: number; otherCpuMs: number }> {
  let stop: (() => ServerSpan) | undefined;
  let span: ServerSpan | undefined;
  const result = await runFleet({ wsUrl, window, rate, agents }, {
    beforeGo: () => { stop = sampleServer(workers()); },
    afterDone: () => { span = stop!(); },
  });
  const { serverCpuMs, machineBusyMs, ...rest } = span!;
  return { result, serverCpuMs, ...rest, otherCpuMs: Math.max(0, machineBusyMs - serverCpuMs - result.cpuMs) };
}

interface ServerSpan { serverCpuMs: number; serverLoopBusy: number; serverMainMs: number; serverWorkersMs: number; machineBusyMs: number }

/** Starts sampling this process's CPU, event loop, main thread and ingest workers, and the machine; the returned function ends the span. */
function sampleServer(pool: Worker[]): () => ServerSpan {
  const cpuStart = process.cpuUsage();
  const loopStart = performance.eventLoopUtilization();
  const workersStart = pool.map((w) => w.performance.eventLoopUtilization());
  const machineStart = machineCpu();
  const mainStart = mainThreadCpuMs();
  return () => {
    const cpu = process.cpuUsage(cpuStart);
    const loop = performance.eventLoopUtilization(loopStart);
    const mainEnd = mainThreadCpuMs();
    return {
      serverCpuMs: (cpu.user + cpu.system) / 1000,
      serverLoopBusy: loop.utilization,
      serverMainMs: mainStart !== undefined && mainEnd !== undefined ? mainEnd - mainStart : loop.active,
      // A worker that crashed and was replaced meanwhile is not counted (the bench never kills one).
      serverWorkersMs: pool.reduce((ms, w, i) => ms + w.performance.eventLoopUtilization(workersStart[i]).active, 0),
      machineBusyMs: machineCpu().busyMs - machineStart.busyMs,
    };
  };
}

