/**
 * Bounded admission for agent registrations (issue 12, reconnect storm): at most `inFlight`
 * registrations run at once, at most `waiting` more wait in arrival order; beyond that the caller
 * is refused and the agent told to come back after a jittered delay. Each finished registration
 * yields to the event loop (setImmediate) before the next starts, so a burst of registrations
 * runs in small slices and HTTP requests (`/api/health`) are served between them.
 */
export interface AdmissionLimits {
  maxRegistrationsInFlight: number;
  maxRegistrationsWaiting: number;
  busyRetryAfterMs: number;
}

export class Admission {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  /** Upgraded sockets that have not registered (or closed) yet. */
  private handshaking = 0;
  /** Refusals so far (upgrades and registrations), for tests and the bench. */
  refused = 0;

  constructor(private readonly limits: AdmissionLimits, private readonly random: () => number = Math.random) {}

  /** The delay to advise a refused agent: the base plus up to as much again, so refused agents spread out. */
  retryAfterMs(): number {
    const base = this.limits.busyRetryAfterMs;
    return base + Math.floor(this.random() * base);
  }

  /** True when one more upgraded-but-unregistered socket may be accepted; counts it when so. */
  enterHandshake(): boolean {
    if (this.handshaking >= this.limits.maxRegistrationsInFlight + this.limits.maxRegistrationsWaiting) {
      this.refused++;
      return false;
    }
    this.handshaking++;
    return true;
  }

  /** The socket registered or closed: it no longer counts as handshaking. */
  leaveHandshake(): void {
    this.handshaking = Math.max(0, this.handshaking - 1);
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
