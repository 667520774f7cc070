import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../lib/clock.ts';
import { createControlPlane, openSqliteStore } from '../control-plane/index.ts';
import { createEnrollmentToken, enrollAgent } from '../control-plane/auth/enrollment.ts';
import { loadLibrary, planEvents } from '../scenarios/index.ts';
import type { ConnAgentPlan, ConnFleetConnected, ConnFleetDone, FromConnFleet, ToConnFleet } from './connections-messages.ts';
import { ensureFdLimit } from './fd-limit.ts';
import { mainThreadCpuMs } from './process-cpu.ts';
import { percentile } from './storm.ts';

const FLEET_ENTRY = join(import.meta.dirname, 'connections-fleet.ts');

/** The issue's bounds and this pass's sizes; one place, units beside each number. */
export const CONNECTIONS = {
  /** Heartbeat interval of every agent, ms (issue 16, goal 4). */
  heartbeatMs: 5_000,
  /** Interval between an agent's `events` batches, ms (goal 4). */
  batchMs: 10_000,
  /** All agents registered within this, ms (goal 4). */
  connectBoundMs: 60_000,
  /** Control-plane RSS bound, MB (goal 4). */
  rssBoundMb: 512,
  /** Agents per fleet process: ws clients are cheap, but one event loop per ~2,500 sockets keeps the fleet's timers punctual. */
  agentsPerFleet: 2_500,
  /** File descriptors the control-plane process needs beyond one per agent (database, HTTP, fleets' IPC), count. */
  fdMargin: 512,
  /** RSS sampling interval, ms. */
  rssSampleMs: 200,
} as const;

export interface ConnectionsOptions {
  agents: number;
  /** Seconds of steady heartbeats and batches once every agent is registered. */
  seconds: number;
  /** Events per batch. */
  batchEvents: number;
  dir: string;
  log?: (line: string) => void;
}

export interface ConnectionsResult {
  agents: number;
  fleets: number;
  fdNote: string;
  enrollSeconds: number;
  registered: number;
  connectSeconds: number;
  registrationP50Ms: number;
  registrationP99Ms: number;
  busy: number;
  retries: number;
  /** Why connection attempts ended without registering, by cause, all fleets together. */
  retryCauses: Record<string, number>;
  /** Largest RSS of the control-plane process over the pass, and at the end, MB. */
  rssMb: number;
  rssEndMb: number;
  eventsSent: number;
  eventsStored: number;
  storedAcked: number;
  heartbeatsSent: number;
  lost: number;
  /** Control-plane CPU during the connect phase per agent registered, ms; during the steady phase per second, ms. */
  connectCpuMsPerAgent: number;
  steadyCpuShare: number;
  /** Control-plane CPU during the steady phase (all its work: heartbeats included) ÷ events sent in it, µs. */
  steadyCpuUsPerEvent: number;
  /** Events and heartbeats sent during the steady phase. */
  steadyEvents: number;
  steadyHeartbeats: number;
  steadySeconds: number;
  /** Of the steady phase's control-plane CPU, the main thread's (the event loop) ÷ events sent, µs (Linux; else the process's). */
  steadyMainCpuUsPerEvent: number;
  /** Share of the steady phase the event loop was busy (not waiting for I/O): blocking calls such as a checkpoint's fsync count. */
  steadyLoopBusy: number;
  fleetCpuMs: number;
  errors: string[];
  errorCount: number;
}

/**
 * Issue 16, goal 4: `agents` agents (enrolled through the store beforehand) connect at once to one
 * control plane on a fresh SQLite store, from ceil(agents / 2,500) fleet processes (real `ws`
 * clients, the real protocol), then each heartbeats every 5 s and sends a batch every 10 s for
 * `seconds` more. Measures the time until all are registered, the control plane's largest RSS
 * (it runs in this process, which holds little else), and checks that every event sent is stored.
 */
export async function runConnections(o: ConnectionsOptions): Promise<ConnectionsResult> {
  const log = o.log ?? (() => {});
  const fd = ensureFdLimit(o.agents + CONNECTIONS.fdMargin);
  log(fd.note);
  if (!fd.ok) throw new Error(fd.note);

  const store = openSqliteStore({ file: join(o.dir, 'connections.db') });
  const enrollStart = performance.now();
  const token = await createEnrollmentToken(store, { subscription: 'sub-conn', resourceGroup: 'rg-conn' }, systemClock);
  const plans: ConnAgentPlan[] = [];
  for (let i = 0; i < o.agents; i++) {
    const hostname = `conn-${String(i).padStart(5, '0')}`;
    const e = await enrollAgent(store, token.token, hostname, systemClock);
    plans.push({ agentId: e.agentId, agentKey: e.agentKey, hostname });
  }
  const enrollSeconds = (performance.now() - enrollStart) / 1000;
  log(`enrolled ${o.agents} agents through the store in ${enrollSeconds.toFixed(1)} s`);

  const ps = loadLibrary().get('suspicious-powershell-encoded');
  if (!ps) throw new Error('connections: scenario suspicious-powershell-encoded is not in the library');
  const template = planEvents(ps, { variant: 'benign', detonationId: 'template', device: { id: 'template', name: 'template' }, startTime: Date.now(), seed: 1 })[0]!.event as unknown as Record<string, unknown>;

  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1', inventory: { schedulePulls: false } } });
  const url = await cp.listen();
  const wsUrl = `${url.replace('http', 'ws')}/agent/v1`;
  let rssMax = process.memoryUsage.rss();
  const sampler = setInterval(() => { rssMax = Math.max(rssMax, process.memoryUsage.rss()); }, CONNECTIONS.rssSampleMs);
  const fleets: ChildProcess[] = [];
  try {
    const count = Math.ceil(o.agents / CONNECTIONS.agentsPerFleet);
    const inbox = new Map<ChildProcess, FromConnFleet[]>();
    const waiters = new Map<ChildProcess, (m: FromConnFleet) => void>();
    const next = (child: ChildProcess) => new Promise<FromConnFleet>((resolve, reject) => {
      const queued = inbox.get(child)!.shift();
      if (queued) return resolve(queued);
      waiters.set(child, resolve);
      child.once('exit', (code) => { if (waiters.get(child) === resolve) reject(new Error(`connections fleet exited (${code}) before reporting`)); });
    });
    for (let f = 0; f < count; f++) {
      const child = fork(FLEET_ENTRY, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
      fleets.push(child);
      inbox.set(child, []);
      child.on('message', (m: FromConnFleet) => {
        const w = waiters.get(child);
        if (w) { waiters.delete(child); w(m); } else inbox.get(child)!.push(m);
      });
      const share = plans.slice(f * CONNECTIONS.agentsPerFleet, (f + 1) * CONNECTIONS.agentsPerFleet);
      child.send({
        type: 'plan', wsUrl, agents: share, heartbeatMs: CONNECTIONS.heartbeatMs, batchMs: CONNECTIONS.batchMs,
        batchEvents: o.batchEvents, template, deadlineMs: CONNECTIONS.connectBoundMs * 2,
      } satisfies ToConnFleet);
    }
    const expect = async <T extends FromConnFleet['type']>(child: ChildProcess, type: T) => {
      const m = await next(child);
      if (m.type === 'failed') throw new Error(`connections fleet failed: ${m.message}`);
      if (m.type !== type) throw new Error(`connections fleet: expected ${type}, got ${m.type}`);
      return m as Extract<FromConnFleet, { type: T }>;
    };
    await Promise.all(fleets.map((c) => expect(c, 'ready')));
    log(`control plane on ${url}; ${o.agents} agents in ${count} fleet process(es) connecting at once`);

    const cpu0 = process.cpuUsage();
    for (const c of fleets) c.send({ type: 'go' } satisfies ToConnFleet);
    const connected: ConnFleetConnected[] = (await Promise.all(fleets.map((c) => expect(c, 'connected')))).map((m) => m.result);
    const cpu1 = process.cpuUsage();
    const registered = connected.reduce((n, c) => n + c.registered, 0);
    const connectMs = Math.max(...connected.map((c) => c.allRegisteredMs));
    log(`${registered} / ${o.agents} registered after ${(connectMs / 1000).toFixed(1)} s; steady for ${o.seconds} s`);

    // BENCH_STEADY_PROFILE=file.cpuprofile: a V8 CPU profile of the steady phase only (the connect
    // phase is profiled with `node --cpu-prof`), to see what a heartbeat and a batch cost.
    const profileFile = process.env.BENCH_STEADY_PROFILE;
    const profiler = profileFile ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const steadyStart = performance.now();
    const main1 = mainThreadCpuMs();
    const loop1 = performance.eventLoopUtilization();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(profileFile!, JSON.stringify(profile));
      profiler.disconnect();
      log(`steady-phase CPU profile: ${profileFile}`);
    }
    for (const c of fleets) c.send({ type: 'stop' } satisfies ToConnFleet);
    const done: ConnFleetDone[] = (await Promise.all(fleets.map((c) => expect(c, 'done')))).map((m) => m.result);
    const cpu2 = process.cpuUsage();
    const main2 = mainThreadCpuMs();
    const loopBusy = performance.eventLoopUtilization(loop1).utilization;
    const steadySeconds = (performance.now() - steadyStart) / 1000;
    clearInterval(sampler);
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
    const rssEnd = process.memoryUsage.rss();

    const sum = (k: keyof ConnFleetDone) => done.reduce((n, d) => n + (d[k] as number), 0);
    const eventsSent = sum('eventsSent');
    const eventsStored = await store.events.countEvents();
    const cpuMs = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1000;
    const steadyCpu = cpuMs(cpu1, cpu2);
    const steadyMainCpu = main1 !== undefined && main2 !== undefined ? main2 - main1 : steadyCpu;
    const steadyEvents = eventsSent - connected.reduce((n, c) => n + c.eventsSent, 0);
    const regs = connected.flatMap((c) => c.latenciesMs).sort((a, b) => a - b);
    return {
      agents: o.agents, fleets: count, fdNote: fd.note, enrollSeconds, registered,
      connectSeconds: connectMs / 1000, registrationP50Ms: percentile(regs, 50), registrationP99Ms: percentile(regs, 99),
      busy: connected.reduce((n, c) => n + c.busy, 0), retries: connected.reduce((n, c) => n + c.retries, 0),
      retryCauses: connected.reduce<Record<string, number>>((all, c) => {
        for (const [k, n] of Object.entries(c.causes)) all[k] = (all[k] ?? 0) + n;
        return all;
      }, {}),
      rssMb: rssMax / 2 ** 20, rssEndMb: rssEnd / 2 ** 20,
      eventsSent, eventsStored, storedAcked: sum('storedAcked'), heartbeatsSent: sum('heartbeatsSent'),
      lost: Math.max(0, eventsSent - eventsStored),
      connectCpuMsPerAgent: cpuMs(cpu0, cpu1) / Math.max(1, registered),
      steadyCpuShare: steadyCpu / 1000 / steadySeconds,
      steadyEvents,
      steadyHeartbeats: sum('heartbeatsSent') - connected.reduce((n, c) => n + c.heartbeatsSent, 0),
      steadyCpuUsPerEvent: (steadyCpu * 1000) / Math.max(1, steadyEvents),
      steadyMainCpuUsPerEvent: (steadyMainCpu * 1000) / Math.max(1, steadyEvents),
      steadyLoopBusy: loopBusy,
      steadySeconds, fleetCpuMs: sum('cpuMs'),
      errors: done.flatMap((d) => d.errors).slice(0, 20), errorCount: sum('errorCount'),
    };
  } finally {
    clearInterval(sampler);
    for (const c of fleets) if (c.exitCode === null) c.kill();
    await cp.close();
    await store.close();
  }
}

/** Within the issue's bounds: all registered within 60 s, RSS <= 512 MB, nothing lost, no errors. */
export function connectionsOk(r: ConnectionsResult): boolean {
  return r.registered === r.agents && r.connectSeconds * 1000 <= CONNECTIONS.connectBoundMs && r.rssMb <= CONNECTIONS.rssBoundMb
    && r.lost === 0 && r.storedAcked === r.eventsSent && r.errorCount === 0;
}

export function formatConnections(r: ConnectionsResult): string {
  return [
    `Connections: ${r.agents} agents on one control plane (SQLite), ${r.fleets} fleet process(es); heartbeat every ${CONNECTIONS.heartbeatMs / 1000} s, a batch every ${CONNECTIONS.batchMs / 1000} s`,
    `  ${r.fdNote}`,
    `  registered                ${r.registered} / ${r.agents} after ${r.connectSeconds.toFixed(1)} s (bound ${CONNECTIONS.connectBoundMs / 1000} s); p50 / p99 ${(r.registrationP50Ms / 1000).toFixed(1)} / ${(r.registrationP99Ms / 1000).toFixed(1)} s`,
    `  BUSY refusals / retries   ${r.busy} / ${r.retries}${Object.keys(r.retryCauses).length ? `; attempts ended by ${Object.entries(r.retryCauses).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}` : ''}`,
    `  control-plane RSS         max ${r.rssMb.toFixed(0)} MB, at the end ${r.rssEndMb.toFixed(0)} MB (bound ${CONNECTIONS.rssBoundMb} MB)`,
    `  control-plane CPU         ${r.connectCpuMsPerAgent.toFixed(2)} ms per agent connected (its batches and heartbeats meanwhile included); steady ${(r.steadyCpuShare * 100).toFixed(0)} % of a core: ${r.steadyEvents} events + ${r.steadyHeartbeats} heartbeats, ${r.steadyCpuUsPerEvent.toFixed(0)} us per event (heartbeats included)`,
    `  steady, the event loop     busy ${(r.steadyLoopBusy * 100).toFixed(0)} % of the time; its thread's CPU ${r.steadyMainCpuUsPerEvent.toFixed(0)} us per event, ${(r.steadyMainCpuUsPerEvent * r.steadyEvents / Math.max(1, r.steadySeconds * r.registered)).toFixed(0)} us per agent-second`,
    `  events sent / stored / acked as stored   ${r.eventsSent} / ${r.eventsStored} / ${r.storedAcked} (lost ${r.lost}); heartbeats ${r.heartbeatsSent} over ${r.steadySeconds.toFixed(0)} s steady`,
    `  fleet CPU                 ${(r.fleetCpuMs / 1000).toFixed(1)} s; agents enrolled (untimed) in ${r.enrollSeconds.toFixed(1)} s`,
    ...(r.errorCount ? [`  errors (${r.errorCount}, first ${r.errors.length}):`, ...r.errors.map((e) => `    ${e}`)] : []),
  ].join('\n');
}
