/**
 * Child-process entry (forked by storm.ts, never run directly): N raw WebSocket agents that all
 * connect at once and register, speaking the real protocol. A refusal with ARCSIM_E_BUSY (an
 * HTTP 503 upgrade or an error frame then close 1013) is retried after the server's
 * `retryAfterMs` plus the agent's own jitter (agent/keepalive.ts busyDelayMs, as the real agent
 * does); a dropped connection after a short backoff. Talks to its parent only over IPC.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { busyDelayMs } from '../agent/keepalive.ts';
import { stormFacts, type FromStormFleet, type StormAgentPlan, type StormFleetResult, type ToStormFleet } from './storm-messages.ts';

/** Delay before retrying a connection that failed for another reason than BUSY, ms. */
const OTHER_RETRY_MS = 500;

function send(message: FromStormFleet): void {
  process.send!(message);
}

async function main(plan: ToStormFleet): Promise<void> {
  const result: StormFleetResult = { registered: 0, allRegisteredMs: 0, latenciesMs: [], busy: 0, retries: 0, errors: [] };
  const start = performance.now();
  const deadline = start + plan.deadlineMs;
  const error = (line: string) => { if (result.errors.length < 20) result.errors.push(line); };

  const one = (a: StormAgentPlan) => new Promise<void>((resolve) => {
    let attempts = 0;
    const attempt = () => {
      if (performance.now() > deadline) {
        error(`${a.hostname}: not registered within ${plan.deadlineMs} ms (${attempts} attempts)`);
        return resolve();
      }
      if (attempts++ > 0) result.retries++;
      let retryAfter: number | undefined;
      let done = false;
      const again = (delay: number) => {
        if (done) return;
        done = true;
        setTimeout(attempt, delay);
      };
      const ws = new WebSocket(plan.wsUrl, { headers: { authorization: `Bearer ${a.agentId}.${a.agentKey}` } });
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body: { code?: string; retryAfterMs?: number } = {};
          try { body = JSON.parse(text); } catch { /* not JSON */ }
          if (res.statusCode === 503 && body.code === 'ARCSIM_E_BUSY') {
            result.busy++;
            return again(busyDelayMs(body.retryAfterMs ?? 1000, 0, Math.random));
          }
          error(`${a.hostname}: upgrade refused with HTTP ${res.statusCode} ${text.slice(0, 200)}`);
          again(OTHER_RETRY_MS);
        });
      });
      ws.on('open', () => ws.send(JSON.stringify({ v: 1, type: 'register', machine: stormFacts(a.index), sqlInstances: [] })));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; code?: string; retryAfterMs?: number; message?: string };
        if (msg.type === 'registered' && !done) {
          done = true;
          result.registered++;
          result.latenciesMs.push(performance.now() - start);
          result.allRegisteredMs = performance.now() - start;
          resolve();
          ws.close(1000);
        } else if (msg.type === 'error') {
          if (msg.code === 'ARCSIM_E_BUSY') {
            result.busy++;
            retryAfter = msg.retryAfterMs ?? 1000;
          } else {
            error(`${a.hostname}: ${msg.code} ${msg.message}`);
          }
        }
      });
      ws.on('error', () => { /* followed by close */ });
      ws.on('close', () => {
        if (done) return;
        again(retryAfter !== undefined ? busyDelayMs(retryAfter, 0, Math.random) : OTHER_RETRY_MS);
      });
    };
    attempt();
  });

  await Promise.all(plan.agents.map((a) => one(a)));
  send({ type: 'done', result });
}

if (!process.send) {
  console.error('bench/storm-fleet.ts is started by bench/storm.ts (npm run bench -- --storm), not directly.');
  process.exitCode = 2;
} else {
  process.once('message', (m: ToStormFleet) => {
    if (m.type !== 'plan') return;
    main(m).then(() => process.disconnect(), (err: unknown) => {
      send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      process.disconnect();
    });
  });
}
