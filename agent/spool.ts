import { EventEmitter } from 'node:events';
import {
  chmodSync, closeSync, existsSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { SensorEvent } from '../protocol/index.ts';

export interface Batch {
  seq: number;
  /**
   * The batch's events as the JSON text they were spooled as: the frame is built from it as is,
   * without parsing each event back into an object and serialising it again (JSON.stringify's
   * own output parses and serialises back to the same text).
   */
  json: string[];
}

export interface SpoolOptions {
  /** Spool log file, normally `<state dir>/spool.log`. */
  file: string;
  /** Most events kept; beyond it the oldest are dropped, events. */
  maxEvents: number;
  /** Fill level that raises a `flood` warning, fraction of maxEvents (Wazuh: 0.9). */
  warnRatio: number;
}

/** Below this fraction of maxEvents a flood is over (Wazuh's "normal" level: 70 %). */
const NORMAL_RATIO = 0.7;
/** The log is rewritten to its live content once it holds this many records beyond it, records. */
const COMPACT_AFTER_RECORDS = 1000;

/**
 * One line of the spool log. `p`: events appended (with `s`, already stamped with that batch:
 * only written by a compaction); `t`: the oldest `n` unsent events became batch `t`; `a`: batch
 * acked; `d`: the oldest `d` events removed to make room, `c` events counted as dropped (more than
 * `d` when a push alone exceeds the bound); `m`: counters at the start of a compacted log.
 */
type SpoolRecord =
  | { p: unknown[]; s?: number }
  | { t: number; n: number }
  | { a: number }
  | { d: number; c: number }
  | { m: { next: number; dropped: number } };

interface Entry {
  seq: number | null;
  /** The event as JSON: kept as text, parsed only when a batch is sent. */
  json: string;
}

interface SpoolState {
  entries: Entry[];
  nextSeq: number;
  dropped: number;
  /** Records in the log, and bytes of its complete lines (a torn last line is cut off at open). */
  records: number;
  goodBytes: number;
}

/**
 * Replays a spool log. Only its tail can be torn (the process died inside a write, or a power cut
 * left a partly written block): from the first unreadable line on, if no later line reads, the
 * tail is ignored, since nothing it said completed. An unreadable line followed by a good one
 * means the file was damaged by something else, and throws.
 */
function replay(file: string): SpoolState {
  const state: SpoolState = { entries: [], nextSeq: 1, dropped: 0, records: 0, goodBytes: 0 };
  if (!existsSync(file)) return state;
  const bytes = readFileSync(file);
  const parse = (from: number, to: number): SpoolRecord | undefined => {
    try {
      return JSON.parse(bytes.toString('utf8', from, to)) as SpoolRecord;
    } catch {
      return undefined;
    }
  };
  let at = 0;
  let line = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) break; // torn last line: its write never completed, so nothing it said happened
    line++;
    const r = parse(at, end);
    if (r === undefined) {
      for (let next = end + 1, nextEnd; (nextEnd = bytes.indexOf(0x0a, next)) >= 0; next = nextEnd + 1) {
        if (parse(next, nextEnd) !== undefined) {
          throw new Error(`spool ${file} is damaged at line ${line}; move it away to start with an empty spool`);
        }
      }
      break;
    }
    apply(state, r);
    state.records++;
    at = end + 1;
    state.goodBytes = at;
  }
  return state;
}

function apply(s: SpoolState, r: SpoolRecord): void {
  if ('p' in r) for (const e of r.p) s.entries.push({ seq: r.s ?? null, json: JSON.stringify(e) });
  else if ('t' in r) {
    stampOldest(s.entries, r.t, r.n);
    s.nextSeq = r.t + 1;
  } else if ('a' in r) s.entries = s.entries.filter((e) => e.seq !== r.a);
  else if ('d' in r) {
    s.entries.splice(0, r.d);
    s.dropped += r.c;
  } else {
    s.nextSeq = r.m.next;
    s.dropped = r.m.dropped;
  }
}

/** Unsent entries always follow sent ones (batches are cut from the oldest unsent), so stamping walks from the first unsent. */
function stampOldest(entries: Entry[], seq: number, n: number): void {
  let i = entries.findIndex((e) => e.seq === null);
  if (i < 0) return;
  const end = Math.min(entries.length, i + n);
  for (; i < end; i++) entries[i]!.seq = seq;
}

/** Events waiting in a spool log (for `arcsim agent status`), without opening it for writing. */
export function spooledEvents(file: string): number | null {
  return existsSync(file) ? replay(file).entries.length : null;
}

/**
 * The agent's durable outbox: an append-only log file between the scenario player and the socket.
 * Events are kept in push order; `take` stamps the oldest unsent ones with a batch sequence
 * number, and only `ack` of that number removes them. A batch keeps its number across agent
 * restarts, so what was in flight is resent as is and the store deduplicates it by ReportId.
 * Bounded: a push beyond `maxEvents` drops the oldest events (sent or not), counts them and
 * emits `dropped`; it never blocks. Emits `flood` when the fill level crosses `warnRatio`.
 *
 * Durability: every change is written (write(2), whole) before the call returns, so it survives
 * the agent being killed (kill -9); a failed write (a full disk) is cut back off the log before the
 * error is thrown, so the log never holds half a record followed by more. Records are not fsynced
 * one by one: a power cut may lose the last ones (their torn tail is ignored at the next start).
 * A compaction (the log rewritten to what is still pending) is fsynced before it replaces the
 * log, so a power cut never loses what an earlier compaction made durable. The log is compacted
 * on push as well as on ack, so it stays bounded while the control plane is unreachable.
 */
export class Spool extends EventEmitter {
  private fd: number;
  /** Bytes in the log: where a failed write is cut back to. */
  private size: number;
  private entries: Entry[];
  private nextSeq: number;
  private droppedTotal: number;
  /** Records in the log since it was last compacted. */
  private records: number;
  private inflight: Set<number>;
  private flooded = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly options: SpoolOptions) {
    super();
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    const state = replay(options.file);
    this.entries = state.entries;
    this.nextSeq = state.nextSeq;
    this.droppedTotal = state.dropped;
    this.records = state.records;
    this.fd = openSync(options.file, 'a', 0o600);
    // A torn last line is cut off, so the next record starts on a line of its own.
    ftruncateSync(this.fd, state.goodBytes);
    this.size = state.goodBytes;
    chmodSync(options.file, 0o600);
    this.inflight = this.seqs();
    if (this.records > COMPACT_AFTER_RECORDS) this.compact();
  }

  /** Appends events (one write); returns how many old events were dropped to make room. */
  push(events: SensorEvent[]): number {
    return this.pushJson(events.map((e) => JSON.stringify(e)));
  }

  /** `push` for events already serialised, each by JSON.stringify (one JSON object per string, no newline). */
  pushJson(json: string[]): number {
    if (json.length === 0) return 0;
    const max = this.options.maxEvents;
    // Events beyond the bound within this push itself: only the newest `max` can be kept.
    const lines = json.length > max ? json.slice(json.length - max) : json;
    let dropped = json.length - lines.length;
    const over = this.entries.length + lines.length - max;
    if (over > 0) dropped += over;
    // One write for the drop and the append: a kill between them cannot lose the drop count.
    const drop = dropped > 0 ? JSON.stringify({ d: Math.max(0, over), c: dropped }) + '\n' : '';
    this.write(`${drop}{"p":[${lines.join(',')}]}\n`, drop ? 2 : 1);
    if (over > 0) this.entries.splice(0, over);
    for (const json of lines) this.entries.push({ seq: null, json });
    this.droppedTotal += dropped;
    this.compactIfDue();
    if (dropped > 0) {
      this.inflight = this.seqs();
      if (this.entries.length === 0) this.wake();
      this.emit('dropped', { dropped, total: this.droppedTotal, maxEvents: max });
    }
    const level = this.entries.length / max;
    if (!this.flooded && level >= this.options.warnRatio) {
      this.flooded = true;
      this.emit('flood', { pending: this.entries.length, maxEvents: max });
    } else if (this.flooded && level < NORMAL_RATIO) {
      this.flooded = false;
    }
    return dropped;
  }

  /** Stamps up to `max` of the oldest unsent events as the next batch; undefined when none wait. */
  take(max: number): Batch | undefined {
    const first = this.entries.findIndex((e) => e.seq === null);
    if (first < 0 || max < 1) return undefined;
    const seq = this.nextSeq;
    const n = Math.min(max, this.entries.length - first);
    this.write(JSON.stringify({ t: seq, n }) + '\n', 1);
    stampOldest(this.entries, seq, n);
    this.nextSeq = seq + 1;
    this.inflight.add(seq);
    return { seq, json: this.entries.slice(first, first + n).map((e) => e.json) };
  }

  /** Batches sent but not acked, oldest first (to resend after a reconnect or a restart). */
  unacked(): Batch[] {
    const out = new Map<number, string[]>();
    for (const e of this.entries) {
      if (e.seq === null) continue;
      const list = out.get(e.seq) ?? [];
      list.push(e.json);
      out.set(e.seq, list);
    }
    return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([seq, json]) => ({ seq, json }));
  }

  /** Removes a committed batch. */
  ack(seq: number): boolean {
    const had = this.inflight.delete(seq);
    if (had) {
      this.write(JSON.stringify({ a: seq }) + '\n', 1);
      this.entries = this.entries.filter((e) => e.seq !== seq);
    }
    if (this.entries.length === 0) this.wake();
    this.compactIfDue();
    return had;
  }

  /** Events not yet acked (queued or in flight). */
  pending(): number {
    return this.entries.length;
  }

  inflightCount(): number {
    return this.inflight.size;
  }

  /** Events dropped because the spool was full, since the spool file was created. */
  dropped(): number {
    return this.droppedTotal;
  }

  /** Resolves once every pushed event has been acked (or dropped). */
  drained(): Promise<void> {
    return this.entries.length === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private write(text: string, records: number): void {
    if (this.fd < 0) throw new Error('spool is closed');
    const buf = Buffer.from(text);
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
    } catch (err) {
      // Never leave half a record for the next one to follow: the log stays readable.
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // The write's own error is the one to report.
      }
      throw err;
    }
    this.size += buf.length;
    this.records += records;
  }

  /** Compacts once the log holds many records beyond its live content (acked batches, dropped events). */
  private compactIfDue(): void {
    if (this.records > COMPACT_AFTER_RECORDS + 2 * this.entries.length) this.compact();
  }

  private seqs(): Set<number> {
    return new Set(this.entries.flatMap((e) => (e.seq === null ? [] : [e.seq])));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Rewrites the log as its live content (counters, then each batch and the unsent events), fsynced, then renamed over it. */
  private compact(): void {
    const lines = [JSON.stringify({ m: { next: this.nextSeq, dropped: this.droppedTotal } })];
    let group: Entry[] = [];
    const flushGroup = () => {
      if (group.length === 0) return;
      const s = group[0]!.seq;
      lines.push(`{${s === null ? '' : `"s":${s},`}"p":[${group.map((e) => e.json).join(',')}]}`);
      group = [];
    };
    for (const e of this.entries) {
      if (group.length > 0 && group[0]!.seq !== e.seq) flushGroup();
      group.push(e);
    }
    flushGroup();
    const tmp = `${this.options.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    const content = Buffer.from(lines.join('\n') + '\n');
    try {
      for (let off = 0; off < content.length; ) off += writeSync(fd, content, off);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.options.file);
    const dirFd = openSync(dirname(this.options.file), 'r');
    try {
      fdatasyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    closeSync(this.fd);
    this.fd = openSync(this.options.file, 'a', 0o600);
    this.size = content.length;
    this.records = lines.length;
  }
}
