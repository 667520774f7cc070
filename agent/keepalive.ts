import type WebSocket from 'ws';

/**
 * Reconnect delays: full jitter (a random delay up to an exponential bound), so many agents that
 * lost the same control plane do not reconnect in step. `reset` after a connection opened.
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly o: { minMs: number; maxMs: number; random: () => number }) {}

  /** The delay before the next attempt, ms (at least half the minimum). */
  next(): number {
    const bound = Math.min(this.o.maxMs, this.o.minMs * 2 ** this.attempt++);
    return Math.max(this.o.minMs / 2, Math.floor(this.o.random() * bound));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * The reconnect delay after the control plane refused us with ARCSIM_E_BUSY: its advised
 * `retryAfterMs` (our own turn in its virtual queue, or a delay it jittered itself) plus up to a
 * tenth of it again in our own jitter, never under `floorMs`. The jitter is small because the
 * server already spreads the refused agents: more would only leave places free while agents wait
 * (10,000 agents at 30 s of advice would lose up to 15 s at a half). A refusal is the server's
 * answer, not a failure, so it does not grow the exponential backoff: an agent refused five
 * times still comes back at its turn, not at 16× its minimum backoff (issue 16: with the backoff
 * winning, 2,000 agents took 39 s to register where their turns allowed ~15 s).
 */
export function busyDelayMs(retryAfterMs: number, floorMs: number, random: () => number): number {
  return Math.max(floorMs, retryAfterMs + Math.floor(random() * (retryAfterMs / 10)));
}

/**
 * The agent's own liveness check on one socket: a ping every `intervalMs`; when neither a pong nor
 * any frame came back since the previous ping, the server is gone and `onDead` runs (the server
 * answers pings even when idle, so silence means it is gone).
 */
export function watchLiveness(ws: WebSocket, intervalMs: number, onDead: () => void): { markAlive(): void; stop(): void } {
  let alive = true;
  const markAlive = () => (alive = true);
  ws.on('pong', markAlive);
  ws.on('ping', markAlive);
  const timer = setInterval(() => {
    if (!alive) return onDead();
    alive = false;
    ws.ping();
  }, intervalMs);
  timer.unref();
  return { markAlive, stop: () => clearInterval(timer) };
}
