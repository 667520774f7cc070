import type { Logger } from '../../lib/logger.ts';
import type { Store } from '../store/index.ts';
import { storeFault, type StoreHealth } from '../health/store-health.ts';

/**
 * Writes agents' heartbeats to the store in batches (issue 16, goal 4). 10,000 agents heartbeating
 * every 5 s are 2,000 heartbeats a second; written one by one each was its own SQLite commit (WAL
 * append) and the commits alone kept the control plane's loop busy. Here a heartbeat is kept in
 * memory and every pending one is written in one transaction, `flushMs` after the first, or sooner
 * when its agent sends another frame: the session flushes before handling it, so frames still take
 * effect in the order they were sent (a heartbeat followed by a batch is recorded by the batch's ack).
 */
export class HeartbeatWriter {
  private pending = new Map<string, { at: number; droppedEvents?: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly deps: {
    store: Pick<Store, 'machines'>;
    /** How long a heartbeat may wait in memory before the batch it is in is written, ms. */
    flushMs: number;
    /** Machines that were Disconnected or Expired and are Connected again (after the write). */
    onConnectedAgain(agentIds: string[]): Promise<void>;
    logger: Logger;
    health?: StoreHealth;
  }) {}

  /** Records a heartbeat to be written with the next batch; a later one of the same agent replaces it. */
  record(agentId: string, at: number, droppedEvents?: number): void {
    const before = this.pending.get(agentId);
    this.pending.set(agentId, { at: Math.max(at, before?.at ?? at), droppedEvents: droppedEvents ?? before?.droppedEvents });
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch(() => undefined); // logged in write(); the agent resends a heartbeat anyway
      }, this.deps.flushMs);
      this.timer.unref();
    }
  }

  /** True when `agentId` has a heartbeat not written yet. */
  has(agentId: string): boolean {
    return this.pending.has(agentId);
  }

  /** Writes every pending heartbeat (one transaction); resolves once they are stored. */
  flush(): Promise<void> {
    // One write at a time: a flush asked for while one runs takes the heartbeats that came meanwhile.
    const next = this.running.then(() => this.write());
    this.running = next.catch(() => undefined);
    return next;
  }

  /** Writes what is pending and stops the timer (the control plane is closing). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    // In agent-id order, so replicas writing overlapping batches lock rows in the same order (no deadlock).
    const rows = [...batch].map(([agentId, h]) => ({ agentId, at: h.at, droppedEvents: h.droppedEvents })).sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
    let again: string[];
    try {
      again = await this.deps.store.machines.recordHeartbeats(rows);
      this.deps.health?.succeeded();
    } catch (err) {
      const cause = storeFault(err);
      if (cause) this.deps.health?.failed(cause);
      this.deps.logger.error('heartbeats not recorded', { heartbeats: rows.length, error: String(err) });
      // Keep them for the next write unless a newer heartbeat came meanwhile.
      for (const [id, h] of batch) if (!this.pending.has(id)) this.pending.set(id, h);
      throw err;
    }
    if (again.length) await this.deps.onConnectedAgain(again);
  }
}
