import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { SensorEvent } from '../protocol/index.ts';

export interface Batch {
  seq: number;
  events: SensorEvent[];
}

export interface SpoolOptions {
  /** SQLite file, normally `<state dir>/spool.db`. */
  file: string;
  /** Most events kept; beyond it the oldest are dropped, events. */
  maxEvents: number;
  /** Fill level that raises a `flood` warning, fraction of maxEvents (Wazuh: 0.9). */
  warnRatio: number;
}

/** Below this fraction of maxEvents a flood is over (Wazuh's "normal" level: 70 %). */
const NORMAL_RATIO = 0.7;

/**
 * The agent's durable outbox: an SQLite file (WAL) between the scenario player and the socket.
 * Events are kept in push order; `take` stamps the oldest unsent ones with a batch sequence
 * number, and only `ack` of that number removes them. A batch keeps its number across agent
 * restarts, so what was in flight is resent as is and the store deduplicates it by ReportId.
 * Bounded: a push beyond `maxEvents` drops the oldest events (sent or not), counts them and
 * emits `dropped`; it never blocks. Emits `flood` when the fill level crosses `warnRatio`.
 */
export class Spool extends EventEmitter {
  private readonly db: Database.Database;
  private readonly stmt: Record<string, Database.Statement>;
  private count: number;
  private inflight: Set<number>;
  private flooded = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly options: SpoolOptions) {
    super();
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    this.db = new Database(options.file);
    chmodSync(options.file, 0o600);
    // WAL + NORMAL: a commit survives the agent process dying; only a power cut may lose the last ones.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER, event TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS spool_seq ON spool(seq) WHERE seq IS NOT NULL;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1), ('dropped', 0);
    `);
    const p = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      insert: p('INSERT INTO spool (event) VALUES (?)'),
      dropOldest: p('DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?)'),
      unsent: p('SELECT id FROM spool WHERE seq IS NULL ORDER BY id LIMIT ?'),
      stamp: p('UPDATE spool SET seq = ? WHERE seq IS NULL AND id <= ?'),
      ack: p('DELETE FROM spool WHERE seq = ?'),
      inflight: p('SELECT seq, event FROM spool WHERE seq IS NOT NULL ORDER BY id'),
      batch: p('SELECT event FROM spool WHERE seq = ? ORDER BY id'),
      seqs: p('SELECT DISTINCT seq FROM spool WHERE seq IS NOT NULL'),
      count: p('SELECT COUNT(*) AS n FROM spool'),
      getMeta: p('SELECT value FROM meta WHERE key = ?'),
      setMeta: p('UPDATE meta SET value = ? WHERE key = ?'),
      addMeta: p('UPDATE meta SET value = value + ? WHERE key = ?'),
    };
    this.count = (this.stmt.count!.get() as { n: number }).n;
    this.inflight = new Set((this.stmt.seqs!.all() as Array<{ seq: number }>).map((r) => r.seq));
  }

  /** Appends events (one transaction); returns how many old events were dropped to make room. */
  push(events: SensorEvent[]): number {
    if (events.length === 0) return 0;
    const max = this.options.maxEvents;
    let dropped = 0;
    this.db.transaction(() => {
      // Events beyond the bound within this push itself: only the newest `max` can be kept.
      const keep = events.length > max ? events.slice(events.length - max) : events;
      dropped = events.length - keep.length;
      const over = this.count + keep.length - max;
      if (over > 0) {
        this.stmt.dropOldest!.run(over);
        dropped += over;
        this.count -= over;
      }
      for (const e of keep) this.stmt.insert!.run(JSON.stringify(e));
      this.count += keep.length;
      if (dropped > 0) this.stmt.addMeta!.run(dropped, 'dropped');
    })();
    if (dropped > 0) {
      this.refreshInflight();
      this.emit('dropped', { dropped, total: this.dropped(), maxEvents: max });
    }
    const level = this.count / max;
    if (!this.flooded && level >= this.options.warnRatio) {
      this.flooded = true;
      this.emit('flood', { pending: this.count, maxEvents: max });
    } else if (this.flooded && level < NORMAL_RATIO) {
      this.flooded = false;
    }
    return dropped;
  }

  /** Stamps up to `max` of the oldest unsent events as the next batch; undefined when none wait. */
  take(max: number): Batch | undefined {
    const ids = this.stmt.unsent!.all(max) as Array<{ id: number }>;
    if (ids.length === 0) return undefined;
    const seq = (this.stmt.getMeta!.get('next_seq') as { value: number }).value;
    this.db.transaction(() => {
      this.stmt.stamp!.run(seq, ids[ids.length - 1]!.id);
      this.stmt.setMeta!.run(seq + 1, 'next_seq');
    })();
    this.inflight.add(seq);
    return { seq, events: (this.stmt.batch!.all(seq) as Array<{ event: string }>).map((r) => JSON.parse(r.event)) };
  }

  /** Batches sent but not acked, oldest first (to resend after a reconnect or a restart). */
  unacked(): Batch[] {
    const out = new Map<number, SensorEvent[]>();
    for (const r of this.stmt.inflight!.all() as Array<{ seq: number; event: string }>) {
      const list = out.get(r.seq) ?? [];
      list.push(JSON.parse(r.event));
      out.set(r.seq, list);
    }
    return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([seq, events]) => ({ seq, events }));
  }

  /** Removes a committed batch. */
  ack(seq: number): boolean {
    const removed = this.stmt.ack!.run(seq).changes;
    this.count -= removed;
    const had = this.inflight.delete(seq);
    if (this.count === 0) for (const w of this.waiters.splice(0)) w();
    return had;
  }

  /** Events not yet acked (queued or in flight). */
  pending(): number {
    return this.count;
  }

  inflightCount(): number {
    return this.inflight.size;
  }

  /** Events dropped because the spool was full, since the spool file was created. */
  dropped(): number {
    return (this.stmt.getMeta!.get('dropped') as { value: number }).value;
  }

  /** Resolves once every pushed event has been acked (or dropped). */
  drained(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private refreshInflight(): void {
    this.inflight = new Set((this.stmt.seqs!.all() as Array<{ seq: number }>).map((r) => r.seq));
    if (this.count === 0) for (const w of this.waiters.splice(0)) w();
  }
}
