import type { Clock } from '../lib/clock.ts';

/**
 * Token bucket on an injected clock: `rate` events per second sustained, `burst` at once.
 * The agent drains its spool through it, like Wazuh's client buffer drains at its EPS limit.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly burst: number, private readonly clock: Clock) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Whole tokens available now. */
  available(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    return Math.floor(this.tokens);
  }

  take(n: number): void {
    this.available();
    this.tokens -= n;
  }

  /** Time until `n` tokens are available, ms (0 when they are). */
  waitMs(n: number): number {
    const have = this.available();
    return have >= n ? 0 : Math.ceil(((n - this.tokens) / this.rate) * 1000);
  }
}
