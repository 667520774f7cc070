/**
 * One bench agent's way in, shared by the fleets of the storm pass (storm-fleet.ts) and of the
 * connections pass (connections-fleet.ts): a real `ws` client upgrades with its key and sends
 * `register` until it gets `registered`, retrying as the real agent does (agent/agent.ts,
 * agent/connection.ts): a refusal with ARCSIM_E_BUSY (an HTTP 503 upgrade, or an error frame then
 * close 1013) after the server's `retryAfterMs` plus the agent's own jitter (busyDelayMs), without
 * growing its backoff; any other failure, a handshake that did not finish within the agent's
 * handshake timeout among them (a connection whose handshake the server's kernel dropped in a
 * burst), after the agent's exponential backoff. Runs in the fleet child processes only.
 */
import WebSocket from 'ws';
import { AGENT_DEFAULTS } from '../agent/agent-defaults.ts';
import { Backoff, busyDelayMs } from '../agent/keepalive.ts';
import { LIMITS } from '../protocol/index.ts';

export interface FleetAgent {
  agentId: string;
  agentKey: string;
  hostname: string;
}

/** Counters the fleet reports, summed over its agents. */
export interface ConnectCounters {
  /** ARCSIM_E_BUSY refusals seen (HTTP 503 upgrades + error frames). */
  busy: number;
  /** Connection attempts after each agent's first. */
  retries: number;
  /**
   * Why each attempt that did not register ended, by cause: `busy` (a BUSY refusal), the socket
   * error's message (e.g. "Opening handshake has timed out", "socket hang up", ECONNRESET), `close
   * <code>` for a close without error, or `HTTP <status>`. Optional: only the connections pass asks.
   */
  causes?: Record<string, number>;
}

export interface ConnectOptions {
  wsUrl: string;
  agent: FleetAgent;
  /** The `register` frame's body: `machine` and `sqlInstances`. */
  register: { machine: Record<string, unknown>; sqlInstances: unknown[] };
  /** Give up (resolve `null`, the socket terminated) this long after the first attempt, ms. */
  deadlineMs: number;
  counters: ConnectCounters;
  /** Anything else that went wrong, one line each. */
  error(line: string): void;
  random?: () => number;
}

/**
 * Connects and registers one agent, retrying as the real agent does; resolves with the open,
 * registered socket (its listeners removed, so the caller attaches its own) or `null` past the deadline.
 */
export function connectAgent(o: ConnectOptions): Promise<WebSocket | null> {
  const random = o.random ?? Math.random;
  const a = o.agent;
  return new Promise((resolve) => {
    let attempts = 0;
    // The real agent's failure backoff; a BUSY refusal follows the server's turn instead.
    const backoff = new Backoff({ minMs: AGENT_DEFAULTS.backoffMinMs, maxMs: AGENT_DEFAULTS.backoffMaxMs, random });
    const busyDelay = (advice: number) => busyDelayMs(advice, AGENT_DEFAULTS.backoffMinMs / 2, random);
    let current: WebSocket | undefined;
    let over = false;
    const finish = (ws: WebSocket | null) => { over = true; clearTimeout(deadline); resolve(ws); };
    // A socket the server upgraded but never answered (still waiting for admission) must not hold the pass.
    const deadline = setTimeout(() => {
      if (over) return;
      o.error(`${a.hostname}: not registered within ${o.deadlineMs} ms (${attempts} attempts)`);
      current?.terminate();
      finish(null);
    }, o.deadlineMs);
    const attempt = () => {
      if (over) return;
      if (attempts++ > 0) o.counters.retries++;
      let retryAfter: number | undefined;
      let cause: string | undefined;
      let settled = false;
      const again = (delay: number) => {
        if (settled) return;
        settled = true;
        if (o.counters.causes) {
          const c = retryAfter !== undefined ? 'busy' : cause ?? 'closed';
          o.counters.causes[c] = (o.counters.causes[c] ?? 0) + 1;
        }
        setTimeout(attempt, delay);
      };
      const ws = new WebSocket(o.wsUrl, { headers: { authorization: `Bearer ${a.agentId}.${a.agentKey}` }, handshakeTimeout: LIMITS.handshakeTimeoutMs });
      current = ws;
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body: { code?: string; retryAfterMs?: number } = {};
          try { body = JSON.parse(text); } catch { /* not JSON */ }
          if (res.statusCode === 503 && body.code === 'ARCSIM_E_BUSY') {
            o.counters.busy++;
            retryAfter = body.retryAfterMs ?? 1000;
            return again(busyDelay(retryAfter));
          }
          cause = `HTTP ${res.statusCode}`;
          o.error(`${a.hostname}: upgrade refused with HTTP ${res.statusCode} ${text.slice(0, 200)}`);
          again(backoff.next());
        });
      });
      ws.on('open', () => {
        backoff.reset();
        ws.send(JSON.stringify({ v: 1, type: 'register', ...o.register }));
      });
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; code?: string; retryAfterMs?: number; message?: string };
        if (msg.type === 'registered' && !settled && !over) {
          settled = true;
          ws.removeAllListeners('message');
          ws.removeAllListeners('close');
          ws.removeAllListeners('unexpected-response');
          finish(ws);
        } else if (msg.type === 'error') {
          if (msg.code === 'ARCSIM_E_BUSY') {
            o.counters.busy++;
            retryAfter = msg.retryAfterMs ?? 1000;
          } else {
            o.error(`${a.hostname}: ${msg.code} ${msg.message}`);
          }
        }
      });
      ws.on('error', (err: NodeJS.ErrnoException) => { cause ??= err.code ?? err.message; }); // followed by close
      ws.on('close', (code) => { cause ??= `close ${code}`; again(retryAfter !== undefined ? busyDelay(retryAfter) : backoff.next()); });
    };
    attempt();
  });
}
