/**
 * Child-process entry (forked by connections.ts, never run directly): a share of the 10,000-agent
 * fleet. On `go` every agent connects at once (real `ws` clients, the real protocol: upgrade with
 * its key, `register`, `registered`), retrying as the real agent does (bench/fleet-connect.ts). Once
 * registered, each agent heartbeats every `heartbeatMs` and sends an `events` batch every
 * `batchMs`, both at a random phase, until `stop`; then it waits for its last acks.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { v7 as uuidv7 } from 'uuid';
import WebSocket from 'ws';
import { connectAgent } from './fleet-connect.ts';
import type { ConnAgentPlan, ConnFleetConnected, ConnFleetDone, FromConnFleet, ToConnFleet } from './connections-messages.ts';

type Plan = Extract<ToConnFleet, { type: 'plan' }>;

/** After `stop`, how long to wait for the acks of batches in flight, ms. */
const DRAIN_MS = 60_000;

function send(message: FromConnFleet): void {
  process.send!(message);
}

function main(plan: Plan): void {
  const connected: ConnFleetConnected = { registered: 0, allRegisteredMs: 0, latenciesMs: [], busy: 0, retries: 0, causes: {}, eventsSent: 0, heartbeatsSent: 0 };
  const done: ConnFleetDone = { batchesSent: 0, eventsSent: 0, batchesAcked: 0, storedAcked: 0, heartbeatsSent: 0, errors: [], errorCount: 0, cpuMs: 0 };
  const error = (line: string) => { done.errorCount++; if (done.errors.length < 20) done.errors.push(line); };
  let start = 0;
  let cpuStart = process.cpuUsage();
  let stopping = false;
  const live: Array<{ ws: WebSocket; timers: NodeJS.Timeout[]; inFlight: Set<number> }> = [];

  const batch = (a: ConnAgentPlan, seq: number): string => {
    const now = Date.now();
    const events = Array.from({ length: plan.batchEvents }, () => ({
      ...plan.template, DeviceId: a.agentId, DeviceName: a.hostname, Timestamp: new Date(now).toISOString(),
      ReportId: uuidv7({ msecs: now, random: randomBytes(16) }), DetonationId: `conn-${a.hostname}-${seq}`,
    }));
    return JSON.stringify({ v: 1, type: 'events', seq, events });
  };

  const one = async (a: ConnAgentPlan) => {
    const ws = await connectAgent({
      wsUrl: plan.wsUrl, agent: a, deadlineMs: plan.deadlineMs, counters: connected, error,
      register: { sqlInstances: [], machine: { hostname: a.hostname, agentVersion: 'bench', osType: 'linux', detectedProperties: {}, cloudMetadata: { provider: 'N/A' } } },
    });
    if (!ws) return;
    const ms = performance.now() - start;
    connected.registered++;
    connected.latenciesMs.push(ms);
    connected.allRegisteredMs = Math.max(connected.allRegisteredMs, ms);
    const state = { ws, timers: [] as NodeJS.Timeout[], inFlight: new Set<number>() };
    live.push(state);
    let seq = 0;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; code?: string; message?: string; seq?: number; stored?: number; ref?: unknown };
      if (msg.type === 'ack' && typeof msg.seq === 'number') {
        if (state.inFlight.delete(msg.seq)) {
          done.batchesAcked++;
          done.storedAcked += msg.stored ?? 0;
        }
      } else if (msg.type === 'error') {
        error(`${a.hostname}: ${msg.code} ${msg.message}${typeof msg.ref === 'number' ? ` (batch ${msg.ref})` : ''}`);
        if (typeof msg.ref === 'number') state.inFlight.delete(msg.ref);
      }
    });
    ws.on('close', (code) => {
      if (!stopping) error(`${a.hostname}: socket closed while running (${code})`);
      for (const t of state.timers) clearTimeout(t);
    });
    const heartbeat = () => { if (!stopping) { ws.send(JSON.stringify({ v: 1, type: 'heartbeat', time: new Date().toISOString() })); done.heartbeatsSent++; } };
    const events = () => {
      if (stopping) return;
      seq++;
      const frame = batch(a, seq);
      state.inFlight.add(seq);
      done.batchesSent++;
      done.eventsSent += plan.batchEvents;
      ws.send(frame);
    };
    // Random phases, so 10,000 agents spread their frames over the interval as a real fleet does.
    state.timers.push(setTimeout(() => { heartbeat(); state.timers.push(setInterval(heartbeat, plan.heartbeatMs)); }, Math.random() * plan.heartbeatMs));
    state.timers.push(setTimeout(() => { events(); state.timers.push(setInterval(events, plan.batchMs)); }, Math.random() * plan.batchMs));
  };

  process.on('message', (m: ToConnFleet) => {
    if (m.type === 'go') {
      start = performance.now();
      cpuStart = process.cpuUsage();
      void Promise.all(plan.agents.map((a) => one(a))).then(() => send({ type: 'connected', result: { ...connected, eventsSent: done.eventsSent, heartbeatsSent: done.heartbeatsSent } }));
    } else if (m.type === 'stop') {
      stopping = true;
      for (const s of live) for (const t of s.timers) clearTimeout(t);
      const drainStart = performance.now();
      const check = () => {
        const pending = live.reduce((n, s) => n + (s.ws.readyState === WebSocket.OPEN ? s.inFlight.size : 0), 0);
        if (pending > 0 && performance.now() - drainStart < DRAIN_MS) return void setTimeout(check, 100);
        for (const s of live) if (s.inFlight.size > 0) error(`${s.inFlight.size} batch(es) never acked`);
        const cpu = process.cpuUsage(cpuStart);
        done.cpuMs = (cpu.user + cpu.system) / 1000;
        for (const s of live) s.ws.close(1000);
        send({ type: 'done', result: done });
        process.disconnect();
      };
      check();
    }
  });
  send({ type: 'ready' });
}

if (!process.send) {
  console.error('bench/connections-fleet.ts is started by bench/connections.ts (npm run bench -- --connections N), not directly.');
  process.exitCode = 2;
} else {
  process.once('message', (m: ToConnFleet) => {
    if (m.type !== 'plan') return;
    try {
      main(m);
    } catch (err) {
      send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      process.disconnect();
    }
  });
}
