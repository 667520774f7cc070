import { EventEmitter } from 'node:events';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { LIMITS, type SensorEvent } from '../protocol/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { AGENT_DEFAULTS } from './agent-defaults.ts';
import type { FaultInjector } from './fault-injector.ts';
import { TokenBucket } from './rate-limiter.ts';
import { Spool, type Batch } from './spool.ts';

/** Where batches go: the current connection, while the agent is registered. */
interface BatchSink {
  send(frame: string): boolean;
  /** Drops the socket (a fault-injected playback asks for it). */
  drop(): void;
}

/**
 * The spool pump: events go into the on-disk spool, and out as `events` batches while the
 * in-flight window and the events-per-second cap allow; an `ack` removes a batch and sends more.
 * What was not acked is resent, in order, on the next registration. Emits `dropped` and `flood`
 * (from the spool).
 */
export class Outbox extends EventEmitter {
  readonly spool: Spool;
  private readonly bucket: TokenBucket;
  private sink: BatchSink | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Delivery faults of the playback in progress (issue #7 test runs); undefined in normal operation. */
  faults: FaultInjector | undefined;

  constructor(private readonly o: {
    stateDir: string; clock: Clock; logger: Logger;
    maxInflightBatches?: number; spoolMaxEvents?: number; eventsPerSecond?: number; eventsBurst?: number;
  }) {
    super();
    const eps = o.eventsPerSecond ?? AGENT_DEFAULTS.eventsPerSecond;
    this.bucket = new TokenBucket(eps, Math.max(eps, o.eventsBurst ?? AGENT_DEFAULTS.eventsBurst), o.clock);
    // Agents before the one-file bundle spooled into SQLite (spool.db), which this agent cannot
    // read (no native addon). Say so once and set the file aside rather than ignore it silently.
    const legacy = join(o.stateDir, 'spool.db');
    if (existsSync(legacy)) {
      renameSync(legacy, `${legacy}.unsent`);
      o.logger.warn('found a spool.db from an older agent: its unsent events (if any) are not sent; kept as spool.db.unsent', { file: `${legacy}.unsent` });
    }
    this.spool = new Spool({
      file: join(o.stateDir, 'spool.log'),
      maxEvents: o.spoolMaxEvents ?? AGENT_DEFAULTS.spoolMaxEvents,
      warnRatio: AGENT_DEFAULTS.spoolWarnRatio,
    });
    this.spool.on('dropped', (d) => {
      o.logger.warn('spool full: dropped the oldest events', d);
      this.emit('dropped', d);
    });
    this.spool.on('flood', (f) => {
      o.logger.warn('spool flooding: events arrive faster than they can be sent', { ...f, eventsPerSecond: eps });
      this.emit('flood', f);
    });
  }

  /** Registered: resends whatever was not acked (by the previous connection or agent run), in order, then sends more. */
  attach(sink: BatchSink): void {
    this.sink = sink;
    for (const b of this.spool.unacked()) this.sendBatch(b);
    this.flush();
  }

  /** Disconnected: events wait in the spool. */
  detach(): void {
    this.sink = undefined;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  push(events: SensorEvent[]): void {
    this.spool.push(events);
    this.flush();
  }

  ack(seq: number): void {
    this.spool.ack(seq);
    this.flush();
  }

  /** The control plane refused batch `seq` with `code`: rate-limited batches are resent, foreign ones dropped. */
  refused(seq: number, code: string): void {
    if (code === 'ARCSIM_E_RATE_LIMITED') {
      const batch = this.spool.unacked().find((b) => b.seq === seq);
      if (batch) setTimeout(() => this.sendBatch(batch), 1000).unref();
    }
    if (code === 'ARCSIM_E_EVENT_FOREIGN') {
      // Produced under an identity this agent no longer has (it re-enrolled): they can never be accepted.
      this.o.logger.warn('dropping a spooled batch produced under a previous agent identity', { seq });
      this.ack(seq);
    }
  }

  close(): void {
    this.detach();
    this.spool.close();
  }

  private sendBatch(b: Batch): void {
    const sink = this.sink;
    if (!sink) return;
    // Events were schema-checked by the player; build the frame directly (hot path).
    const frame = JSON.stringify({ v: 1, type: 'events', seq: b.seq, events: b.events });
    // FAULT SEAM (issue #7): during a fault-injected playback the frame goes through the injector
    // (delay / send twice / drop the socket after it); otherwise this is a plain send.
    if (this.faults) return this.faults.send(frame, { send: (f) => sink.send(f), drop: () => sink.drop() });
    sink.send(frame);
  }

  /** Sends spooled events while the in-flight window and the events-per-second cap allow. */
  private flush(): void {
    const window = this.o.maxInflightBatches ?? AGENT_DEFAULTS.maxInflightBatches;
    while (this.sink && this.spool.inflightCount() < window) {
      const tokens = this.bucket.available();
      if (tokens < 1) {
        // Over the cap: the events wait in the spool (bounded), and go out as tokens come back.
        if (!this.flushTimer) {
          this.flushTimer = setTimeout(() => { this.flushTimer = undefined; this.flush(); }, Math.max(50, this.bucket.waitMs(1)));
          this.flushTimer.unref();
        }
        return;
      }
      const b = this.spool.take(Math.min(this.faults?.batchSize ?? LIMITS.maxEventsPerBatch, tokens));
      if (!b) return;
      this.bucket.take(b.events.length);
      this.sendBatch(b);
    }
  }
}
