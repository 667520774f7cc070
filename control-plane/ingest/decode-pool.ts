import { Worker } from 'node:worker_threads';
import type { SensorEvent } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { OsFamily } from '../detection/index.ts';
import type { DecodeReply } from './batch-decode.ts';

/** What a worker is started with. */
export interface DecodeWorkerData {
  /** The rule files' text, as the writer's thread compiled them (readRuleSources). */
  sources: Array<{ file: string; text: string }>;
  /** DeviceFileCertificateInfo rows stored before a (re)start, to prime the file-profile cache. */
  certificates: SensorEvent[];
  maxEventsPerBatch: number;
}

/** One frame handed to a worker; `bytes` is transferred (its buffer is detached here). */
export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  agentId: string;
  os: OsFamily | undefined;
}

export interface DecodePoolOptions {
  /** Worker threads, count (limits.ingestWorkers); 0 makes a pool that decodes nothing. */
  workers: number;
  sources: Array<{ file: string; text: string }>;
  maxEventsPerBatch: number;
  /** The certificate rows to prime each (re)started worker's file profiles with. */
  certificates: () => Promise<SensorEvent[]>;
  logger: Logger;
  /** Least time between two starts of one worker slot after a crash, ms. */
  restartDelayMs?: number;
}

interface Slot {
  worker: Worker | undefined;
  /** The worker compiled its rules and takes frames (until then the caller decodes them). */
  ready: boolean;
  pending: Map<number, (reply: DecodeReply | null) => void>;
  startedAt: number;
  restart: NodeJS.Timeout | undefined;
}

const ENTRY = new URL('./decode-worker.mjs', import.meta.url);

/**
 * The ingest worker threads (issue 16): each agent's `events` frames are decoded, validated and
 * matched against every rule's selection on one worker (the same one for all of an agent's
 * frames, so they are answered in order), while the writer's thread stores, correlates, folds and
 * acks. `decode` resolves with the worker's reply, or with `null` when no worker can answer (none
 * running or not ready yet, it crashed, the pool closed): the caller then decodes the frame itself, so a crash
 * fails no batch. A crashed worker is started again (at most once per `restartDelayMs`).
 */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private started = false;

  constructor(private readonly options: DecodePoolOptions) {
    for (let i = 0; i < options.workers; i++) this.slots.push({ worker: undefined, ready: false, pending: new Map(), startedAt: 0, restart: undefined });
  }

  get size(): number {
    return this.slots.length;
  }

  /** The worker threads taking frames (started and ready; for CPU accounting, `worker.performance`, and for tests that kill one). */
  get workers(): Worker[] {
    return this.slots.flatMap((s) => (s.worker && s.ready ? [s.worker] : []));
  }

  /**
   * Starts every worker (after the store is open: the file profiles are primed from it). Does not
   * wait for them: until a worker has compiled its rules, its agents' frames are decoded by the
   * caller, so a control plane takes batches from its first second.
   */
  async start(): Promise<void> {
    if (this.started || this.slots.length === 0) return;
    this.started = true;
    const certificates = await this.options.certificates();
    for (const slot of this.slots) this.spawn(slot, certificates);
  }

  /**
   * Decodes one agent frame on that agent's worker. `bytes` is copied once into a buffer of its
   * own that is transferred (not serialised); the caller keeps `bytes` for the fallback.
   */
  decode(agentId: string, os: OsFamily | undefined, bytes: Uint8Array): Promise<DecodeReply | null> {
    const slot = this.slots.length ? this.slots[slotOf(agentId, this.slots.length)]! : undefined;
    const worker = slot?.worker;
    if (!slot || !worker || !slot.ready || this.closed) return Promise.resolve(null);
    const id = this.nextId++;
    const copy = new Uint8Array(bytes);
    return new Promise((resolve) => {
      slot.pending.set(id, resolve);
      const req: DecodeRequest = { id, bytes: copy, agentId, os };
      try {
        worker.postMessage(req, [copy.buffer]);
      } catch (err) {
        slot.pending.delete(id);
        this.options.logger.error('ingest worker: frame not handed over', { error: String(err) });
        resolve(null);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots) {
      clearTimeout(slot.restart);
      const w = slot.worker;
      slot.worker = undefined;
      slot.ready = false;
      this.orphan(slot);
      if (w) await w.terminate();
    }
  }

  private spawn(slot: Slot, certificates: SensorEvent[]): void {
    const data: DecodeWorkerData = { sources: this.options.sources, certificates, maxEventsPerBatch: this.options.maxEventsPerBatch };
    const worker = new Worker(ENTRY, { workerData: data });
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = performance.now();
    worker.on('message', (m: { id: number; reply: DecodeReply | null } | { ready: true }) => {
      if (!('id' in m)) {
        if (slot.worker === worker) slot.ready = true;
        return;
      }
      const resolve = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      resolve?.(m.reply);
    });
    const gone = (why: string) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      slot.ready = false;
      const pending = slot.pending.size;
      // Every frame it held is decoded by the caller instead: nothing is lost or refused.
      this.orphan(slot);
      if (this.closed) return;
      this.options.logger.error('ingest worker stopped; its frames are decoded on the main thread until it is back', { why, pending });
      const wait = Math.max(0, slot.startedAt + (this.options.restartDelayMs ?? 1000) - performance.now());
      slot.restart = setTimeout(() => {
        slot.restart = undefined;
        if (this.closed) return;
        this.options.certificates().then((c) => {
          if (!this.closed && !slot.worker) this.spawn(slot, c);
        }, (err: unknown) => this.options.logger.error('ingest worker not restarted', { error: String(err) }));
      }, wait);
      slot.restart.unref();
    };
    worker.on('error', (err) => gone(`error: ${err.message}`));
    worker.on('exit', (code) => gone(`exit code ${code}`));
  }

  private orphan(slot: Slot): void {
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const resolve of pending) resolve(null);
  }
}

/** The worker slot of an agent: always the same one, so its frames are answered in order. */
function slotOf(agentId: string, n: number): number {
  if (n === 1) return 0;
  let h = 0;
  for (let i = 0; i < agentId.length; i++) h = (h * 31 + agentId.charCodeAt(i)) | 0;
  return Math.abs(h) % n;
}
