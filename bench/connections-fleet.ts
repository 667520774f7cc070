/**
 * Child-process entry (forked by connections.ts, never run directly): a share of the 10,000-agent
 * fleet. On `go` every agent connects at once (real `ws` clients, the real protocol: upgrade with
 * its key, `register`, `registered`); a refusal with ARCSIM_E_BUSY is retried after the server's
 * `retryAfterMs` plus the agent's own jitter, as the real agent does (agent/keepalive.ts). Once
 * registered, each agent heartbeats every `heartbeatMs` and sends an `events` batch every
 * `batchMs`, both at a random phase, until `stop`; then it waits for its last acks.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { v7 as uuidv7 } from 'uuid';
import WebSocket from 'ws';
import { busyDelayMs } from '../agent/keepalive.ts';
import type { ConnAgentPlan, ConnFleetConnected, ConnFleetDone, FromConnFleet, ToConnFleet } from './connections-messages.ts';

type Plan = Extract<ToConnFleet, { type: 'plan' }>;

/** Delay before retrying a connection that failed for another reason than BUSY, ms. */
const OTHER_RETRY_MS = 500;
/** After `stop`, how long to wait for the acks of batches in flight, ms. */
const DRAIN_MS = 60_000;

function send(message: FromConnFleet): void {
  process.send!(message);
}

function main(plan: Plan): void {
  const connected: ConnFleetConnected = { registered: 0, allRegisteredMs: 0, latenciesMs: [], busy: 0, retries: 0, eventsSent: 0, heartbeatsSent: 0 };
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

  const one = (a: ConnAgentPlan) => new Promise<void>((resolveOne) => {
    let attempts = 0;
    let current: WebSocket | undefined;
    let over = false;
    const resolve = () => { over = true; clearTimeout(deadline); resolveOne(); };
    // A socket the server upgraded but never answered (still waiting for admission) must not hold the pass.
    const deadline = setTimeout(() => {
      if (over) return;
      error(`${a.hostname}: not registered within ${plan.deadlineMs} ms (${attempts} attempts)`);
      current?.terminate();
      resolve();
    }, plan.deadlineMs);
    const attempt = () => {
      if (over) return;
      if (attempts++ > 0) connected.retries++;
      let retryAfter: number | undefined;
      let settled = false;
      let registered = false;
      const again = (delay: number) => {
        if (settled) return;
        settled = true;
        setTimeout(attempt, delay);
      };
      const ws = new WebSocket(plan.wsUrl, { headers: { authorization: `Bearer ${a.agentId}.${a.agentKey}` } });
      current = ws;
      const state = { ws, timers: [] as NodeJS.Timeout[], inFlight: new Set<number>() };
      let seq = 0;
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body: { code?: string; retryAfterMs?: number } = {};
          try { body = JSON.parse(text); } catch { /* not JSON */ }
          if (res.statusCode === 503 && body.code === 'ARCSIM_E_BUSY') {
            connected.busy++;
            return again(busyDelayMs(body.retryAfterMs ?? 1000, 0, Math.random));
          }
          error(`${a.hostname}: upgrade refused with HTTP ${res.statusCode} ${text.slice(0, 200)}`);
          again(OTHER_RETRY_MS);
        });
      });
      ws.on('open', () => ws.send(JSON.stringify({
        v: 1, type: 'register', sqlInstances: [],
        machine: { hostname: a.hostname, agentVersion: 'bench', osType: 'linux', detectedProperties: {}, cloudMetadata: { provider: 'N/A' } },
      })));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; code?: string; retryAfterMs?: number; message?: string; seq?: number; stored?: number; ref?: unknown };
        if (msg.type === 'registered' && !settled && !over) {
          settled = true;
          registered = true;
          const ms = performance.now() - start;
          connected.registered++;
          connected.latenciesMs.push(ms);
          connected.allRegisteredMs = Math.max(connected.allRegisteredMs, ms);
          live.push(state);
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
          resolve();
        } else if (msg.type === 'ack' && typeof msg.seq === 'number') {
          if (state.inFlight.delete(msg.seq)) {
            done.batchesAcked++;
            done.storedAcked += msg.stored ?? 0;
          }
        } else if (msg.type === 'error') {
          if (!registered && msg.code === 'ARCSIM_E_BUSY') {
            connected.busy++;
            retryAfter = msg.retryAfterMs ?? 1000;
          } else {
            error(`${a.hostname}: ${msg.code} ${msg.message}${typeof msg.ref === 'number' ? ` (batch ${msg.ref})` : ''}`);
            if (typeof msg.ref === 'number') state.inFlight.delete(msg.ref);
          }
        }
      });
      ws.on('error', () => { /* followed by close */ });
      ws.on('close', (code) => {
        if (registered) {
          if (!stopping) error(`${a.hostname}: socket closed while running (${code})`);
          for (const t of state.timers) clearTimeout(t);
          return;
        }
        again(retryAfter !== undefined ? busyDelayMs(retryAfter, 0, Math.random) : OTHER_RETRY_MS);
      });
    };
    attempt();
  });

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
