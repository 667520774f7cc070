import { LIMITS } from '../protocol/limits.ts';
import type { Faults } from '../protocol/faults.ts';
import { parseDuration } from '../lib/duration.ts';
import { seededRandom } from '../lib/random.ts';
import type { PlannedEvent } from '../scenarios/index.ts';

/** What the injector needs from the connection: send a text frame, drop the socket abruptly. */
export interface FaultLink {
  send(frame: string): void;
  drop(): void;
}

/**
 * Delivery faults for one playback (issue #7 test runs). Pure decisions plus two seams in the
 * agent: `arrange` rewrites the planned events before they are queued, `send` replaces the
 * plain `ws.send` of a batch. Everything the control plane must survive — a socket dropped
 * before the ack, the same batch twice, events out of order, late batches — happens here, so the
 * agent's own send path stays the production one.
 */
export class FaultInjector {
  private sentBatches = 0;
  private dropped = false;

  constructor(private readonly faults: Faults, private readonly seed: number | string = 1) {}

  /** Events per batch while this playback runs. */
  get batchSize(): number {
    return this.faults.batchSize ?? LIMITS.maxEventsPerBatch;
  }

  /**
   * Reorders planned events (seeded): each event's sort key is its offset plus a random shift in
   * [0, window), so no event moves by more than the window in event time. Timestamps are kept:
   * only the delivery order changes.
   */
  arrange<T extends Pick<PlannedEvent, 'offsetMs'>>(planned: T[]): T[] {
    if (!this.faults.reorder) return planned;
    const window = parseDuration(this.faults.reorder.window);
    const rng = seededRandom(`${this.seed}:reorder`);
    return planned
      .map((p) => ({ p, key: p.offsetMs + rng.next() * window }))
      .sort((a, b) => a.key - b.key)
      .map((x) => x.p);
  }

  /** Sends one batch frame through the faults: delay, duplicate, then maybe drop the socket. */
  send(frame: string, link: FaultLink): void {
    const go = () => {
      link.send(frame);
      if (this.faults.duplicateBatches) link.send(frame);
      this.sentBatches++;
      const drop = this.faults.dropConnection;
      if (drop && !this.dropped && this.sentBatches >= drop.afterBatches) {
        this.dropped = true;
        link.drop();
      }
    };
    if (this.faults.delay) setTimeout(go, parseDuration(this.faults.delay)).unref();
    else go();
  }
}
