import type { SensorEvent } from '../protocol/index.ts';

export interface Batch {
  seq: number;
  events: SensorEvent[];
}

/**
 * Events waiting for the control plane's `ack`. A batch keeps its sequence number and content
 * until acked, so a resend after a reconnect is byte-identical and the store deduplicates it
 * by ReportId. (Issue #3 replaces this in-memory queue with an on-disk spool.)
 */
export class MemoryOutbox {
  private queued: SensorEvent[] = [];
  private readonly inflight = new Map<number, Batch>();
  private nextSeq = 1;
  private waiters: Array<() => void> = [];

  push(events: SensorEvent[]): void {
    this.queued.push(...events);
  }

  /** Forms the next batch from queued events (up to `max`), or undefined when nothing is queued. */
  take(max: number): Batch | undefined {
    if (this.queued.length === 0) return undefined;
    const batch = { seq: this.nextSeq++, events: this.queued.splice(0, max) };
    this.inflight.set(batch.seq, batch);
    return batch;
  }

  /** Batches sent but not acked, oldest first (to resend after a reconnect). */
  unacked(): Batch[] {
    return [...this.inflight.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Drops one committed batch. */
  ack(seq: number): boolean {
    const had = this.inflight.delete(seq);
    if (this.pending() === 0) for (const w of this.waiters.splice(0)) w();
    return had;
  }

  /** Events not yet acked (queued or in flight). */
  pending(): number {
    let n = this.queued.length;
    for (const b of this.inflight.values()) n += b.events.length;
    return n;
  }

  inflightCount(): number {
    return this.inflight.size;
  }

  /** Resolves once every pushed event has been acked. */
  drained(): Promise<void> {
    return this.pending() === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
