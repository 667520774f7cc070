import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineResourceId, type SensorEvent } from '../../protocol/index.ts';
import { ManualClock } from '../../lib/clock.ts';
import { openSqliteStore, type AgentRow, type MachineRow, type Store } from '../../control-plane/store/index.ts';
import { Ingest } from '../../control-plane/ingest/ingest.ts';
import { IngestQueue } from '../../control-plane/ingest/ingest-queue.ts';
import { SyncConfigSchema } from '../../control-plane/products/sync-matrix.ts';
import { DetectionEngine, loadRulesDir } from '../../control-plane/detection/index.ts';

/**
 * Issue 16, goal 2: with 16 equal agents the slowest finished 11x later than the fastest, and one
 * noisy agent raised quiet agents' ack p99 70-fold, because batches were served FIFO by arrival.
 * The gateway's queue (IngestQueue) takes one batch per agent in turn (round after round while no agent runs out) and commits what it took in
 * one transaction; a batch's promise settles only after that commit.
 */

async function setup(agentIds: string[]): Promise<{ store: Store; ingest: Ingest; hosts: Map<string, { agent: AgentRow; machine: MachineRow }> }> {
  const store = openSqliteStore({ file: ':memory:' });
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  let n = 0;
  const ingest = new Ingest(store, new DetectionEngine(loadRulesDir(), { latenessMs: 0 }), clock, () => `id-${++n}`, {
    sync: SyncConfigSchema.parse({}), incidentWindowMs: 86_400_000,
  });
  await store.agents.insertToken({ id: 't', tokenHash: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, revokedAt: null, uses: 0, maxUses: null });
  const hosts = new Map<string, { agent: AgentRow; machine: MachineRow }>();
  for (const id of agentIds) {
    const agent: AgentRow = { agentId: id, keyHash: '', tokenId: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', hostname: id, enrolledAt: 0 };
    await store.agents.enrollAgent(agent, 0);
    const machine = await store.machines.upsertMachine({
      agentId: id, resourceId: machineResourceId('s', 'rg', id), name: id, sqlInstances: [], extensions: [],
      status: 'Connected', lastHeartbeat: 0, lastStatusChange: 0, registeredAt: 0,
      facts: { hostname: id, agentVersion: 'test', osType: 'linux', detectedProperties: {}, cloudMetadata: { provider: 'N/A' } },
    });
    hosts.set(id, { agent, machine });
  }
  return { store, ingest, hosts };
}

function batchOf(agentId: string, tag: string, count: number, timestamp = '2026-06-01T00:00:00.000Z'): SensorEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    Table: 'DeviceProcessEvents', Timestamp: timestamp, ReportId: `${agentId}-${tag}-${i}`,
    DeviceId: agentId, DeviceName: agentId, ActionType: 'ProcessCreated', FileName: 'true', ProcessCommandLine: 'true',
  }) as unknown as SensorEvent);
}

test('a batch of another agent waits behind one batch of a busy agent, not all of its queued ones; each agent in order', async () => {
  const { store, ingest, hosts } = await setup(['busy', 'quiet-1', 'quiet-2']);
  try {
    const queue = new IngestQueue(ingest, { maxBatchesPerCommit: 3, maxEventsPerCommit: 10_000 });
    const settled: string[] = [];
    const submit = (agentId: string, tag: string) => queue.submit({ ...hosts.get(agentId)!, events: batchOf(agentId, tag, 10) })
      .then((r) => { settled.push(`${agentId}/${tag}`); return r; });
    // The busy agent's five batches arrive first, then one batch of each quiet agent.
    const all = [1, 2, 3, 4, 5].map((i) => submit('busy', `b${i}`));
    all.push(submit('quiet-1', 'q1'), submit('quiet-2', 'q2'));
    const results = await Promise.all(all);
    assert.deepEqual(results.map((r) => r?.stored), [10, 10, 10, 10, 10, 10, 10]);
    // First commit: one batch of each agent. FIFO by arrival would have served all five busy ones first.
    assert.deepEqual(settled.slice(0, 3).sort(), ['busy/b1', 'quiet-1/q1', 'quiet-2/q2']);
    assert.deepEqual(settled.filter((s) => s.startsWith('busy/')), ['busy/b1', 'busy/b2', 'busy/b3', 'busy/b4', 'busy/b5']);
    assert.equal(await store.events.countEvents(), 70);
  } finally {
    await store.close();
  }
});

test('a quiet agent\'s next batch waits behind one batch of a busy agent, not behind its whole window', async () => {
  const { store, ingest, hosts } = await setup(['busy', 'quiet']);
  try {
    const queue = new IngestQueue(ingest, { maxBatchesPerCommit: 32, maxEventsPerCommit: 10_000 });
    const settled: string[] = [];
    const submit = (agentId: string, tag: string) => queue.submit({ ...hosts.get(agentId)!, events: batchOf(agentId, tag, 10) })
      .then((r) => { settled.push(`${agentId}/${tag}`); return r; });
    // The busy agent has its window of 8 batches queued; the quiet one sends its next batch as soon as its first is acked.
    const all = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => submit('busy', `b${i}`));
    all.push(submit('quiet', 'q1').then((r) => { all.push(submit('quiet', 'q2')); return r; }));
    await Promise.all(all);
    await Promise.all(all);
    // First commit: b1 and q1; then b2 and q2 (q2 arrived meanwhile); then the rest of the busy window.
    assert.deepEqual(settled, ['busy/b1', 'quiet/q1', 'busy/b2', 'quiet/q2', 'busy/b3', 'busy/b4', 'busy/b5', 'busy/b6', 'busy/b7', 'busy/b8']);
    assert.equal(await store.events.countEvents(), 100);
  } finally {
    await store.close();
  }
});

test('equal agents with batches queued share one commit, in turn; a round that empties an agent\'s queue ends the group', async () => {
  const { store, ingest, hosts } = await setup(['a', 'b', 'c', 'd']);
  try {
    const groups: string[][] = [];
    const ingestGroup = ingest.ingestGroup.bind(ingest);
    ingest.ingestGroup = (batches) => {
      groups.push(batches.map((b) => String((b.events as SensorEvent[])[0]!.ReportId).split('-').slice(0, 2).join('/')));
      return ingestGroup(batches);
    };
    const queue = new IngestQueue(ingest, { maxBatchesPerCommit: 32, maxEventsPerCommit: 10_000 });
    const submit = (agentId: string, tag: string) => queue.submit({ ...hosts.get(agentId)!, events: batchOf(agentId, tag, 10) });
    // Four agents, three batches each, all queued before the first commit; then d has a fourth.
    const all = [1, 2, 3].flatMap((i) => ['a', 'b', 'c', 'd'].map((id) => submit(id, `x${i}`)));
    all.push(submit('d', 'x4'));
    await Promise.all(all);
    // One commit of three rounds (one batch of each agent per round); the third round empties a, b
    // and c, so d's fourth batch goes in a commit of its own. One batch per agent per commit took 4.
    assert.deepEqual(groups, [
      ['a/x1', 'b/x1', 'c/x1', 'd/x1', 'a/x2', 'b/x2', 'c/x2', 'd/x2', 'a/x3', 'b/x3', 'c/x3', 'd/x3'],
      ['d/x4'],
    ]);
    assert.equal(await store.events.countEvents(), 130);
  } finally {
    await store.close();
  }
});

test('a batch whose write fails is refused alone: the other batches of its group are committed', async () => {
  const { store, ingest, hosts } = await setup(['good-1', 'bad', 'good-2']);
  try {
    const queue = new IngestQueue(ingest, { maxBatchesPerCommit: 32, maxEventsPerCommit: 10_000 });
    // An event time that is not a time: its row breaks the events table's NOT NULL on ts.
    const outcomes = await Promise.allSettled([
      queue.submit({ ...hosts.get('good-1')!, events: batchOf('good-1', 'a', 5) }),
      queue.submit({ ...hosts.get('bad')!, events: batchOf('bad', 'a', 5, 'not a time') }),
      queue.submit({ ...hosts.get('good-2')!, events: batchOf('good-2', 'a', 5) }),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(await store.events.countEvents({ agentId: 'good-1' }), 5);
    assert.equal(await store.events.countEvents({ agentId: 'good-2' }), 5);
    assert.equal(await store.events.countEvents({ agentId: 'bad' }), 0);
  } finally {
    await store.close();
  }
});

test('a batch of an agent revoked before its turn is dropped unstored', async () => {
  const { store, ingest, hosts } = await setup(['a', 'b']);
  try {
    let revoked = false;
    const queue = new IngestQueue(ingest, { maxBatchesPerCommit: 32, maxEventsPerCommit: 15 });
    const first = queue.submit({ ...hosts.get('a')!, events: batchOf('a', '1', 10) });
    const second = queue.submit({ ...hosts.get('b')!, events: batchOf('b', '1', 10), dropped: () => revoked });
    revoked = true;
    assert.equal((await first)?.stored, 10);
    assert.equal(await second, null);
    assert.equal(await store.events.countEvents(), 10);
    assert.equal(queue.depth, 0);
  } finally {
    await store.close();
  }
});

test('commits start at least commitIntervalMs apart: batches that come meanwhile share the next commit; with 0 each goes alone', async () => {
  const groupsWith = async (commitIntervalMs: number): Promise<number[]> => {
    const { store, ingest, hosts } = await setup(['a', 'b', 'c', 'd']);
    try {
      const groups: number[] = [];
      const ingestGroup = ingest.ingestGroup.bind(ingest);
      ingest.ingestGroup = (batches) => { groups.push(batches.length); return ingestGroup(batches); };
      // The queue's clock stands still: every batch after the first comes within the interval.
      const queue = new IngestQueue(ingest, { maxBatchesPerCommit: 32, maxEventsPerCommit: 10_000, commitIntervalMs }, () => 1000);
      const submit = (id: string) => queue.submit({ ...hosts.get(id)!, events: batchOf(id, 'x', 5) });
      assert.equal((await submit('a'))?.stored, 5);
      // Three agents' batches, 25 ms apart (ample for an in-memory commit of 5 events).
      const later: Array<Promise<unknown>> = [];
      for (const id of ['b', 'c', 'd']) {
        later.push(submit(id));
        await new Promise((r) => setTimeout(r, 25));
      }
      const results = (await Promise.all(later)) as Array<{ stored: number } | null>;
      assert.deepEqual(results.map((r) => r?.stored), [5, 5, 5], 'each acked as stored, after its commit');
      assert.equal(await store.events.countEvents(), 20);
      return groups;
    } finally {
      await store.close();
    }
  };
  assert.deepEqual(await groupsWith(0), [1, 1, 1, 1], 'no interval: each batch commits as soon as it comes');
  assert.deepEqual(await groupsWith(200), [1, 3], 'the first at once, the next three together once the interval is over');
});

test('batches that arrive while a commit runs join it when its group left nothing waiting, within the per-commit limits', async () => {
  const commitsWith = async (maxBatchesPerCommit: number): Promise<string[][]> => {
    const { store, ingest, hosts } = await setup(['a', 'b', 'c']);
    try {
      // Each transaction, with the batches that joined it (the `more` groups), as agent/tag.
      const commits: string[][] = [];
      const names = (batches: ReadonlyArray<{ events: unknown }>) => batches.map((b) => String((b.events as SensorEvent[])[0]!.ReportId).split('-').slice(0, 2).join('/'));
      const ingestGroup = ingest.ingestGroup.bind(ingest);
      ingest.ingestGroup = (batches, more) => {
        const commit = names(batches);
        commits.push(commit);
        return ingestGroup(batches, more && (async () => {
          const next = await more();
          commit.push(...names(next));
          return next;
        }));
      };
      const queue = new IngestQueue(ingest, { maxBatchesPerCommit, maxEventsPerCommit: 10_000 });
      const submit = (id: string, tag: string) => queue.submit({ ...hosts.get(id)!, events: batchOf(id, tag, 5) });
      // a's batch starts a commit on the queue's turn; b's and c's come in that same turn of the
      // event loop, after the commit's group was taken (as frames read from sockets while it runs).
      const first = submit('a', 'x1');
      const later = new Promise<Array<unknown>>((resolve) => setImmediate(() => resolve([submit('b', 'x1'), submit('c', 'x1')])));
      const results = (await Promise.all([first, ...(await later)])) as Array<{ stored: number } | null>;
      assert.deepEqual(results.map((r) => r?.stored), [5, 5, 5]);
      assert.equal(await store.events.countEvents(), 15);
      return commits;
    } finally {
      await store.close();
    }
  };
  assert.deepEqual(await commitsWith(32), [['a/x1', 'b/x1', 'c/x1']], 'one commit: b and c joined a\'s transaction');
  assert.deepEqual(await commitsWith(2), [['a/x1', 'b/x1'], ['c/x1']], 'the limit of 2 batches per commit holds for those that join');
});
