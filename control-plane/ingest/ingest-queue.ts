import type { AgentRow, MachineRow } from '../store/index.ts';
import { batchSize, type BatchEvents, type Ingest, type IngestResult } from './ingest.ts';

/** How much one commit may take, from the limits object (protocol/limits.ts). */
export interface CommitLimits {
  /** Most batches committed in one transaction, count. */
  maxBatchesPerCommit: number;
  /** Most events committed in one transaction, count (a single larger batch still goes alone). */
  maxEventsPerCommit: number;
  /**
   * Least time from the start of one commit to the start of the next, ms (0 or absent: none).
   * Batches that come meanwhile wait and share the next commit (see IngestQueue).
   */
  commitIntervalMs?: number;
}

export interface QueuedBatch {
  agent: AgentRow;
  machine: MachineRow;
  /** Decoded on this thread, or decoded and matched by the ingest worker. */
  events: BatchEvents;
  /** When the batch arrived (performance.now() ms), for the alert latency figure. */
  arrivedAt?: number;
  /** Asked when the batch's turn comes: true drops it unstored (its agent was revoked meanwhile). */
  dropped?: () => boolean;
}

interface Pending {
  batch: QueuedBatch;
  /** `null`: dropped, nothing stored. */
  resolve(result: IngestResult | null): void;
  reject(err: unknown): void;
}

/**
 * Group commit with round-robin fairness (issue 16). Sessions hand in their agents' batches; the
 * queue commits what is waiting in one transaction (Ingest.ingestGroup: each batch exactly as
 * ingestBatch would take it, in this order), taking one batch per waiting agent, the agents in
 * turn, so an agent's batch waits behind one batch of each other agent, never behind all of a busy
 * agent's queued ones (FIFO by arrival would). Further rounds join the same commit only while
 * every agent of the last round still has batches queued (see take). A batch's promise settles only after its
 * transaction committed (or failed): the caller acks on that, so an ack still means "committed".
 * An agent's batches commit in the order they were handed in.
 *
 * A group that took every waiting batch stays open while its transaction runs: batches that arrive
 * meanwhile (an agent's next frames, sent on the acks of the last commit) join the same commit
 * instead of waiting for the next one (see commit), within the same limits. One agent keeping 8
 * batches in flight otherwise has about half of them in each commit, and each batch waits for two
 * commits: its acks, and so its next batches, are paced by the commits' fixed cost (the WAL pages
 * of every index and alert row written once per commit) rather than by the events (issue 16,
 * docs/performance.md "Change 8"). A group that left batches waiting (a limit, or an agent of its
 * last round ran out while others wait) takes none, so the fairness above holds as it did.
 *
 * If a group's transaction fails, nothing of it was committed, and each of its batches is tried
 * again alone, so one batch's failure is reported to its own agent only.
 *
 * Commits start at least `commitIntervalMs` apart (issue 16, goal 4): 10,000 agents send 1,000
 * small batches a second, and on an idle loop each went alone, one COMMIT (its WAL pages, the
 * shared index pages written again each time) per 5 events. A batch that comes sooner after the
 * last commit waits out the rest of the interval, so the batches of that interval share one
 * commit; a batch that comes later commits at once. Acks wait at most that long more; a loop
 * already saturated (commits longer than the interval) is not slowed at all.
 */
export class IngestQueue {
  /** Waiting batches per agent, FIFO; the map's order is the round-robin ring. */
  private readonly waiting = new Map<string, Pending[]>();
  private running = false;
  /** When the last commit started (performance.now() ms). */
  private lastCommitAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly ingest: Ingest, private readonly limits: CommitLimits, private readonly now: () => number = () => performance.now()) {}

  /** Resolves with the batch's result once committed, or `null` if it was dropped before its turn. */
  submit(batch: QueuedBatch): Promise<IngestResult | null> {
    return new Promise((resolve, reject) => {
      const key = batch.agent.agentId;
      const list = this.waiting.get(key);
      if (list) list.push({ batch, resolve, reject });
      else this.waiting.set(key, [{ batch, resolve, reject }]);
      this.schedule();
    });
  }

  /** Batches waiting, all agents. */
  get depth(): number {
    let n = 0;
    for (const l of this.waiting.values()) n += l.length;
    return n;
  }

  private schedule(): void {
    if (this.running) return;
    this.running = true;
    const wait = this.lastCommitAt + (this.limits.commitIntervalMs ?? 0) - this.now();
    // After the I/O of this turn, or once the interval since the last commit is over: batches of
    // other sockets that arrive meanwhile join the group.
    if (wait >= 1) setTimeout(() => void this.drain(), wait);
    else setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.lastCommitAt = this.now();
    try {
      const counted = { batches: 0, events: 0 };
      const group = this.take(counted);
      if (group.length > 0) await this.commit(group, counted);
    } finally {
      this.running = false;
      if (this.waiting.size > 0) this.schedule();
    }
  }

  /**
   * The next group: one batch of each waiting agent, in turn, until a limit is reached; then
   * another such round, and so on, for as long as no agent of the last round ran out of batches.
   * Agents that all have batches queued (equal agents streaming, or one agent alone: its window)
   * share one larger commit, in turn; once a round empties some agent's queue (a quiet agent
   * beside a busy one), the group ends there, so a quiet agent's next batch never waits behind
   * more than one batch of a busy one plus its own group.
   */
  private take(commit: { batches: number; events: number }): Pending[] {
    const group: Pending[] = [];
    let ranOut = false;
    while (!ranOut && this.waiting.size > 0) {
      // One round: every agent waiting now, in ring order (a snapshot: agents re-inserted below wait for the next round).
      for (const key of [...this.waiting.keys()]) {
        const list = this.waiting.get(key)!;
        const next = list[0]!;
        const size = batchSize(next.batch.events);
        if (commit.batches > 0 && (commit.batches >= this.limits.maxBatchesPerCommit || commit.events + size > this.limits.maxEventsPerCommit)) return group;
        list.shift();
        // An agent served goes to the back of the ring, so the next group starts with the others.
        this.waiting.delete(key);
        if (list.length > 0) this.waiting.set(key, list);
        else ranOut = true;
        if (next.batch.dropped?.()) {
          next.resolve(null);
          continue;
        }
        group.push(next);
        commit.batches++;
        commit.events += size;
      }
    }
    return group;
  }

  /**
   * Commits `group` (taken by take()), and the batches that arrive while its transaction runs
   * (see the class comment): when take() left nothing waiting, the transaction yields to the event
   * loop after each group (one turn: sockets read, frames decoded, batches handed in) and takes
   * what came, by the same rounds and within the same per-commit limits, until a turn brings none.
   */
  private async commit(group: Pending[], counted: { batches: number; events: number }): Promise<void> {
    let open = this.waiting.size === 0;
    const more = async (): Promise<QueuedBatch[]> => {
      if (!open) return [];
      await new Promise<void>((resolve) => setImmediate(resolve));
      const next = this.take(counted);
      open = next.length > 0 && this.waiting.size === 0;
      group.push(...next);
      return next.map((p) => p.batch);
    };
    let results: IngestResult[];
    try {
      // The batches taken so far; those that join are appended to `group` as `more` takes them.
      results = await this.ingest.ingestGroup(group.map((p) => p.batch), more);
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      // Nothing of the group was committed: each batch alone, so a failure reaches only its own agent.
      for (const p of group) {
        try {
          p.resolve((await this.ingest.ingestGroup([p.batch]))[0]!);
        } catch (e) {
          p.reject(e);
        }
      }
      return;
    }
    group.forEach((p, i) => p.resolve(results[i]!));
  }
}
