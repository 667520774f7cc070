import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** The background checkpointer's timings and bounds, one object, units beside. */
export const SQLITE_CHECKPOINT = {
  /** Interval between the thread's passive checkpoints, ms. */
  intervalMs: 250,
  /** WAL size past which the store pauses its writer for one final round of the thread so the WAL starts over (wantsWrap, finish), pages (4 KiB each: 64 MiB). */
  maxWalPages: 16_384,
  /** SQLite's own automatic checkpoint, restored on the main connection if the thread fails, pages. */
  inlineAutocheckpointPages: 1000,
  /** How long close() waits for the thread's last checkpoint, ms. */
  closeTimeoutMs: 5000,
} as const;

const ENTRY = new URL('./sqlite-checkpoint-worker.mjs', import.meta.url);

/**
 * Checkpoints a WAL-mode SQLite file from a thread of its own (issue 16, goal 4). SQLite's
 * automatic checkpoint runs inside the COMMIT that pushes the WAL past 1,000 pages: it copies
 * those pages into the database file and fsyncs it, on the writer's connection, so the control
 * plane's event loop stood still for it (at 2,000 agents, one commit in nine took over 5 ms, 19 %
 * of the loop's time; docs/performance.md, "Third pass"). Here the main connection's automatic
 * checkpoint is off and a worker thread with its own connection runs passive checkpoints, which
 * never block the writer; durability is unchanged (synchronous=NORMAL syncs at checkpoints, in
 * whichever thread runs them). If the thread fails, the main connection checkpoints as before.
 */
export class SqliteCheckpointer {
  private readonly worker: Worker;
  private closing: Promise<void> | undefined;
  /** Set once the thread has failed and the main connection checkpoints itself again. */
  failed: Error | undefined;
  /** The thread found the WAL past maxWalPages: a final round is wanted while the writer pauses (wantsWrap, finish). */
  private wrapDue = false;
  /** wantsWrap said yes and that finish has not settled yet. */
  private wrapping = false;
  /** Rounds of `finish` that left the whole WAL copied, so the writer's next transaction started the WAL over (for tests). */
  wraps = 0;
  private finishes = 0;
  private readonly pending = new Map<number, (r: { log: number; checkpointed: number } | null) => void>();

  constructor(private readonly db: Database.Database, file: string, options: Partial<{ -readonly [K in keyof typeof SQLITE_CHECKPOINT]: number }> = {}) {
    const o = { ...SQLITE_CHECKPOINT, ...options };
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(ENTRY, { workerData: { file, intervalMs: o.intervalMs, maxWalPages: o.maxWalPages } });
    this.worker.on('message', (m: { type: string; id?: number; log?: number; checkpointed?: number }) => {
      if (m.type === 'wrap') this.wrapDue = true;
      if (m.type === 'finished') this.settle(m.id!, m.log === undefined ? null : { log: m.log, checkpointed: m.checkpointed! });
    });
    // The store's own handles keep a process alive when it should be; this thread should not.
    this.worker.unref();
    const fallBack = (err: Error) => {
      for (const id of [...this.pending.keys()]) this.settle(id, null);
      if (this.closing || this.failed) return;
      this.failed = err;
      if (db.open) db.pragma(`wal_autocheckpoint = ${o.inlineAutocheckpointPages}`);
    };
    this.worker.on('error', fallBack);
    this.worker.on('exit', (code) => fallBack(new Error(`checkpointer thread exited (${code})`)));
  }

  /**
   * Asked by the store between two of its transactions: true (once, until `finish` settles) when
   * the thread has found the WAL past maxWalPages. The store then runs `finish` as its next
   * operation, so nothing is written while it runs.
   */
  wantsWrap(): boolean {
    if (!this.wrapDue || this.wrapping || this.failed || this.closing) return false;
    this.wrapping = true;
    return true;
  }

  /**
   * One more PASSIVE round on the thread, now, while the writer is paused (the store holds its
   * lock until this settles, on the event loop's side only as a pending promise: the loop keeps
   * serving sockets). With no new frames coming, the round copies the WAL to its end; SQLite then
   * starts the WAL over at the writer's next transaction (a fully copied WAL that no reader uses).
   * The copy and its sync run on the thread; the main thread never checkpoints. Resolves true
   * when the WAL was copied to its end; false if not (the thread failed, or did not answer within
   * the close timeout), and the next wrap message tries again.
   */
  finish(): Promise<boolean> {
    if (this.failed || this.closing) {
      this.wrapping = false;
      return Promise.resolve(false);
    }
    const id = ++this.finishes;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.settle(id, null), SQLITE_CHECKPOINT.closeTimeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        this.wrapping = false;
        const done = !!r && r.checkpointed === r.log;
        if (done) {
          this.wrapDue = false;
          this.wraps++;
        }
        resolve(done);
      });
      this.worker.postMessage({ type: 'finish', id });
    });
  }

  private settle(id: number, r: { log: number; checkpointed: number } | null): void {
    const f = this.pending.get(id);
    if (!f) return;
    this.pending.delete(id);
    f(r);
  }

  /** Resolves after the thread's next checkpoint that copied pages (for tests). */
  checkpointed(): Promise<{ log: number; checkpointed: number }> {
    return new Promise((resolve) => {
      const on = (m: { type: string; log: number; checkpointed: number }) => {
        if (m.type !== 'checkpointed') return;
        this.worker.off('message', on);
        this.worker.unref();
        resolve({ log: m.log, checkpointed: m.checkpointed });
      };
      // The thread is unref'd (it must not keep a process alive): held while someone waits for it.
      this.worker.ref();
      this.worker.on('message', on);
    });
  }

  /** Runs a last checkpoint on the thread and ends it; the main connection may then close (and checkpoints what is left). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.failed) return resolve();
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), SQLITE_CHECKPOINT.closeTimeoutMs);
      this.worker.once('exit', () => { clearTimeout(timer); resolve(); });
      this.worker.on('message', (m: { type: string }) => { if (m.type === 'closed') void this.worker.terminate(); });
      this.worker.postMessage({ type: 'close' });
    });
    return this.closing;
  }
}
