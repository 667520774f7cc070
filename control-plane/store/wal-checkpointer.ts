import { Worker } from 'node:worker_threads';

/** The checkpointer's pace and the writer's own fallback (SQLite's wal_autocheckpoint), with units. */
export const WAL_CHECKPOINTS = {
  /** Least time between two checkpoints started by commits, ms. */
  intervalMs: 100,
  /**
   * The writer's connection still checkpoints by itself once the WAL holds this many frames, pages
   * (4 KiB each, so ~40 MiB): only if the checkpointer falls behind or is gone. SQLite's default is 1,000.
   */
  writerFallbackPages: 10_000,
} as const;

const ENTRY = new URL('./wal-checkpoint-worker.mjs', import.meta.url);

/**
 * Issue 16: SQLite in WAL mode copies committed pages from the WAL into the database file in a
 * "checkpoint", by default inside the COMMIT that makes the WAL exceed 1,000 pages, on the
 * writer's thread: the copy (a read and a write per page) and two fsyncs (synchronous=NORMAL
 * syncs only there) then stall the one thread that ingests. This runs the checkpoints on a worker
 * thread with its own connection instead (PASSIVE: the writer keeps committing meanwhile), at
 * most one in flight, started by a commit at most every `intervalMs`; the writer's connection
 * keeps `writerFallbackPages` as its own automatic checkpoint, so the WAL stays bounded if this
 * thread falls behind or dies. What a commit means (durable in the WAL) does not change.
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private running = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private dead = false;
  /** Checkpoints run, and the last one's answer (for tests and diagnostics). */
  checkpoints = 0;
  lastResult: { ok: boolean; walFrames?: number; copied?: number; error?: string } | undefined;

  constructor(private readonly file: string, private readonly intervalMs: number = WAL_CHECKPOINTS.intervalMs, private readonly now: () => number = () => performance.now()) {}

  /** Told after every commit of the writer's connection; starts a checkpoint when one is due. */
  committed(): void {
    if (this.running || this.dead) return;
    const now = this.now();
    if (now - this.lastStart < this.intervalMs) return;
    const worker = this.worker ?? this.start();
    if (!worker) return;
    this.running = true;
    this.lastStart = now;
    worker.postMessage('checkpoint');
  }

  /** Resolves once the thread has closed its connection (before the writer closes its own: the last close checkpoints and removes the WAL). */
  async close(): Promise<void> {
    this.dead = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Held now, or the process could end while this awaits a thread that does not keep it alive.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker | undefined {
    // Started on the first commit: a store that never commits never starts a thread.
    try {
      const worker = new Worker(ENTRY, { workerData: { file: this.file } });
      // It never keeps the process alive (a checkpoint cut short by exit is safe: the WAL still holds every frame).
      worker.unref();
      worker.on('message', (m: WalCheckpointer['lastResult']) => {
        this.running = false;
        this.checkpoints++;
        this.lastResult = m;
      });
      // Gone (it should not): the writer's own automatic checkpoint (writerFallbackPages) takes over.
      worker.on('error', () => this.gone());
      worker.on('exit', () => this.gone());
      this.worker = worker;
      return worker;
    } catch {
      this.gone();
      return undefined;
    }
  }

  private gone(): void {
    this.dead = true;
    this.running = false;
    this.worker = undefined;
  }
}
