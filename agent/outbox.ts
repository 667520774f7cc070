import { EventEmitter } from 'node:events';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { LIMITS } from '../protocol/limits.ts';
import type { SensorEvent } from '../protocol/events.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { AGENT_DEFAULTS } from './agent-defaults.ts';
import type { FaultInjector } from './fault-injector.ts';
import { Backoff } from './keepalive.ts';
import { TokenBucket } from './rate-limiter.ts';
import { Spool, type Batch } from './spool.ts';

/** Where batches go: the current connection, while the agent is registered. */
interface BatchSink {
  send(frame: string): boolean;
  /** Drops the socket (a fault-injected playback asks for it). */
  drop(): void;
}

/** What the control plane said about a batch it did not ack (an `error` frame whose `ref` is the batch's seq). */
export interface Refusal {
  code: string;
  /** The batch may be accepted if sent again (nothing of it was stored). */
  retryable?: boolean;
  /** Advised least delay before resending, ms. */
  retryAfterMs?: number;
}

/**
 * The `events` frame of a batch, built from the events' spooled JSON text: the same text as
 * `JSON.stringify({v: 1, type: 'events', seq, events})` of the parsed events, without parsing and
 * serialising each event again (a snapshot of hundreds of rows made megabytes of garbage that way).
 */
export function eventsFrame(b: Batch): string {
  return `{"v":1,"type":"events","seq":${b.seq},"events":[${b.json.join(',')}]}`;
}

/** Codes that always mean "resend later", also from a control plane that sends no `retryable` flag. */
const RETRYABLE = new Set(['ARCSIM_E_RATE_LIMITED', 'ARCSIM_E_STORE_WRITE']);

/**
 * The spool pump: events go into the on-disk spool, and out as `events` batches while the
 * in-flight window and the events-per-second cap allow; an `ack` removes a batch and sends more.
 * A batch refused as retryable (the store could not commit it, or it was over the rate) stays in
 * the spool and is resent on the same connection after an exponential, jittered delay (never
 * sooner than advised); an ack resets the delay. What was not acked is resent, in order, on the
 * next registration. Emits `dropped` and `flood` (from the spool) and `retry` ({seq, code, delayMs}).
 */
export class Outbox extends EventEmitter {
  readonly spool: Spool;
  private readonly bucket: TokenBucket;
  private sink: BatchSink | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly retryBackoff: Backoff;
  /** Resend timers of refused batches, by seq. */
  private readonly retries = new Map<number, NodeJS.Timeout>();
  /** Delivery faults of the playback in progress (issue #7 test runs); undefined in normal operation. */
  faults: FaultInjector | undefined;

  constructor(private readonly o: {
    stateDir: string; clock: Clock; logger: Logger;
    maxInflightBatches?: number; spoolMaxEvents?: number; eventsPerSecond?: number; eventsBurst?: number;
    /** Resend delay bounds of a refused batch, ms, and the jitter's random source. */
    batchRetryMinMs?: number; batchRetryMaxMs?: number; random?: () => number;
  }) {
    super();
    this.retryBackoff = new Backoff({
      minMs: o.batchRetryMinMs ?? AGENT_DEFAULTS.batchRetryMinMs, maxMs: o.batchRetryMaxMs ?? AGENT_DEFAULTS.batchRetryMaxMs, random: o.random ?? Math.random,
    });
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
    // The next registration resends every unacked batch anyway.
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
  }

  push(events: SensorEvent[]): void {
    this.spool.push(events);
    this.flush();
  }

  /** `push` for events already serialised by JSON.stringify (Spool.pushJson). */
  pushJson(json: string[]): void {
    this.spool.pushJson(json);
    this.flush();
  }

  ack(seq: number): void {
    clearTimeout(this.retries.get(seq));
    this.retries.delete(seq);
    // A commit: the store takes writes again, so the next refusal starts from the shortest delay.
    this.retryBackoff.reset();
    this.spool.ack(seq);
    this.flush();
  }

  /**
   * The control plane did not ack batch `seq`. A retryable refusal keeps the batch and resends
   * it (same seq, same events) after a backoff delay; a batch of a former identity is dropped;
   * anything else waits for the next registration, which resends every unacked batch.
   */
  refused(seq: number, r: Refusal): void {
    if (r.retryable || RETRYABLE.has(r.code)) {
      if (this.retries.has(seq)) return;
      const delayMs = Math.max(r.retryAfterMs ?? 0, this.retryBackoff.next());
      const timer = setTimeout(() => {
        this.retries.delete(seq);
        const batch = this.spool.unacked().find((b) => b.seq === seq);
        if (batch) this.sendBatch(batch);
      }, delayMs);
      timer.unref();
      this.retries.set(seq, timer);
      this.emit('retry', { seq, code: r.code, delayMs });
      return;
    }
    if (r.code === 'ARCSIM_E_EVENT_FOREIGN') {
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
    const frame = eventsFrame(b);
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
      this.bucket.take(b.json.length);
      this.sendBatch(b);
    }
  }
}
