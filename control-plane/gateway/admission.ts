import type { Clock } from '../../lib/clock.ts';
import { systemClock } from '../../lib/clock.ts';

/**
 * Bounded admission for agent registrations (issue 12, reconnect storm): at most `inFlight`
 * registrations run at once, at most `waiting` more wait in arrival order; beyond that the caller
 * is refused and the agent told when to come back. Each finished registration yields to the event
 * loop (setImmediate) before the next starts, so a burst of registrations runs in small slices and
 * HTTP requests (`/api/health`) are served between them.
 *
 * The advice is a virtual queue (issue 16, goal 4): the server measures how often an upgraded
 * socket leaves the handshake (registered, or gone) while others wait, and gives each refused agent
 * its own turn, one such interval after the turn given before it, so 10,000 agents refused at once
 * come back about as fast as places free up instead of refusing each other again. Until enough
 * intervals are measured (the very first refusals of the first burst) the advice is short, a random
 * point between `busyRetryMinMs` and `busyRetryAfterMs`: the first registrations take tens of
 * milliseconds, so an agent refused blind comes back to a measured rate and is given its turn then.
 * (It was `busyRetryAfterMs` plus up to as much again: 2-4 s in which the places drained and the
 * server idled, then most of the burst came back together and was refused again, issue 16.)
 */
export interface AdmissionLimits {
  maxRegistrationsInFlight: number;
  maxRegistrationsWaiting: number;
  busyRetryAfterMs: number;
  /** Least delay advised from the virtual queue, ms. */
  busyRetryMinMs: number;
  /** The latest this many intervals between departures give the measured interval, count. */
  admissionRateSamples: number;
}

/** Intervals needed before the measured one is trusted, count. */
const MIN_SAMPLES = 8;

export class Admission {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  /** Upgraded sockets that have not registered (or closed) yet. */
  private handshaking = 0;
  /** Refusals so far (upgrades and registrations), for tests and the bench. */
  refused = 0;
  /** The latest intervals between departures from a busy handshake (ms), a ring of `admissionRateSamples`. */
  private readonly intervals: number[] = [];
  private intervalsNext = 0;
  private intervalsSum = 0;
  /** When the last socket left the handshake, or the handshake last became busy (clock ms). */
  private lastMark = 0;
  /** The latest turn handed out (clock ms): the next refused agent's turn is one interval after it. */
  private lastTurnAt = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly random: () => number = Math.random,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The delay to advise a refused agent, ms: its turn in the virtual queue (one measured departure
   * interval after the previous refused agent's turn), or, before any rate is measured, a random
   * point between the least delay and the base, so the first refused agents spread out and come
   * back once the rate is known.
   */
  retryAfterMs(): number {
    const now = this.clock.now();
    const interval = this.departureIntervalMs();
    if (interval === undefined) {
      const { busyRetryMinMs: min, busyRetryAfterMs: base } = this.limits;
      return min + Math.floor(this.random() * Math.max(0, base - min));
    }
    this.lastTurnAt = Math.max(this.lastTurnAt, now) + interval;
    return Math.max(this.limits.busyRetryMinMs, Math.ceil(this.lastTurnAt - now));
  }

  /** The measured interval between departures, ms, or undefined before enough were seen. */
  departureIntervalMs(): number | undefined {
    return this.intervals.length < MIN_SAMPLES ? undefined : this.intervalsSum / this.intervals.length;
  }

  /** True when one more upgraded-but-unregistered socket may be accepted; counts it when so. */
  enterHandshake(): boolean {
    if (this.handshaking >= this.limits.maxRegistrationsInFlight + this.limits.maxRegistrationsWaiting) {
      this.refused++;
      return false;
    }
    // An idle handshake becoming busy: the next interval counts from now, not from the last departure.
    if (this.handshaking++ === 0) this.lastMark = this.clock.now();
    return true;
  }

  /** The socket registered or closed: it no longer counts as handshaking, and its place is free. */
  leaveHandshake(): void {
    if (this.handshaking === 0) return;
    this.handshaking--;
    const now = this.clock.now();
    const interval = Math.max(0, now - this.lastMark);
    this.lastMark = now;
    const size = Math.max(1, this.limits.admissionRateSamples);
    if (this.intervals.length < size) this.intervals.push(interval);
    else {
      this.intervalsSum -= this.intervals[this.intervalsNext]!;
      this.intervals[this.intervalsNext] = interval;
      this.intervalsNext = (this.intervalsNext + 1) % size;
    }
    this.intervalsSum += interval;
  }

  /**
   * Runs `work` when a slot is free; resolves with `busy` (without running it) when the queue is
   * full. The slot is released after `work` settles and one turn of the event loop.
   */
  async run<T>(work: () => Promise<T>): Promise<{ busy: true } | { busy: false; value: T }> {
    if (this.running >= this.limits.maxRegistrationsInFlight) {
      if (this.queue.length >= this.limits.maxRegistrationsWaiting) {
        this.refused++;
        return { busy: true };
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running++;
    }
    try {
      return { busy: false, value: await work() };
    } finally {
      // Let the loop serve other sockets and HTTP requests before the next registration starts.
      setImmediate(() => {
        const next = this.queue.shift();
        if (next) next(); // the slot passes straight to the next waiter
        else this.running--;
      });
    }
  }

  /** Registrations running and waiting now. */
  state(): { running: number; waiting: number; handshaking: number; refused: number } {
    return { running: this.running, waiting: this.queue.length, handshaking: this.handshaking, refused: this.refused };
  }
}
