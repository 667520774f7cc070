import { machineResourceId, toMachineName, type SensorEvent } from '../../protocol/index.ts';
import { ManualClock } from '../../lib/clock.ts';
import type { AgentRow, MachineRow, Store } from '../../control-plane/store/index.ts';
import { Ingest } from '../../control-plane/ingest/ingest.ts';
import { SyncConfigSchema } from '../../control-plane/products/sync-matrix.ts';
import { DetectionEngine, loadRulesDir } from '../../control-plane/detection/index.ts';
import { buildWorkload } from '../../bench/workload.ts';
import { ingestAndCollect } from './ingest-folds-workload.ts';

/**
 * Issue 16 (goals 1 and 5): the bench workload, where ~82 % of the events feed a correlation
 * (the SSH brute force: event_count, chained into the temporal_ordered brute-force success), on
 * the live ingest path (Ingest with products, incidents, sources and event links) with the
 * shipped rules, an injected clock (1 s per batch) and counter ids. Six agents; their 25-event
 * batches interleaved round-robin, agent 5's batches delivered in swapped pairs (late events
 * within the engine's lateness), committed `groupOf` batches per transaction (1: ingestBatch;
 * more: ingestGroup, the gateway's group commit). Returns the alert rows, each one's sources and
 * linked events, and the incidents with their alerts: what must not change when correlation state
 * is handled per group commit instead of per event.
 */
export async function correlationWorkloadState(store: Store, options: { groupOf?: number } = {}): Promise<unknown> {
  const groupOf = options.groupOf ?? 1;
  const manual = new ManualClock(Date.UTC(2026, 10, 2));
  const clock = { now: () => { const t = manual.now(); manual.advance(1000); return t; } };
  let n = 0;
  const ingest = new Ingest(store, new DetectionEngine(loadRulesDir(), { latenessMs: 5 * 60_000 }), clock, () => `id-${String(++n).padStart(6, '0')}`, {
    sync: SyncConfigSchema.parse({}), incidentWindowMs: 86_400_000,
  });
  await store.agents.insertToken({ id: 't', tokenHash: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, revokedAt: null, uses: 0, maxUses: null });
  const identities = Array.from({ length: 6 }, (_, i) => ({ agentId: `00000000-0000-4000-8000-00000000000${i}`, hostname: `bench-host-${i}` }));
  const workload = buildWorkload(identities, 6 * 700, 25, 'corr16');
  const perAgent: Array<Array<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[] }>> = [];
  for (const [i, w] of workload.entries()) {
    const name = toMachineName(w.hostname);
    const agent: AgentRow = { agentId: w.agentId, keyHash: '', tokenId: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', hostname: name, enrolledAt: 0 };
    await store.agents.enrollAgent(agent, 0);
    const machine = await store.machines.upsertMachine({
      agentId: w.agentId, resourceId: machineResourceId('s', 'rg', name), name, sqlInstances: [], extensions: [],
      status: 'Connected', lastHeartbeat: 0, lastStatusChange: 0, registeredAt: 0,
      facts: { hostname: w.hostname, agentVersion: 'test', detectedProperties: {}, cloudMetadata: { provider: 'N/A' }, osType: 'linux' },
    });
    const batches = w.frames.map((f) => ({ agent, machine, events: (JSON.parse(f) as { events: SensorEvent[] }).events }));
    if (i === 5) for (let b = 0; b + 1 < batches.length; b += 2) [batches[b], batches[b + 1]] = [batches[b + 1]!, batches[b]!];
    perAgent.push(batches);
  }
  const batches: Array<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[] }> = [];
  for (let round = 0; perAgent.some((l) => round < l.length); round++) for (const l of perAgent) if (round < l.length) batches.push(l[round]!);
  return ingestAndCollect(store, ingest, batches, groupOf);
}

/** One enrolled Linux Arc machine and an Ingest over `store` with the shipped rules (what a replica runs). */
export async function liveIngest(store: Store, agentId: string, options: { enroll?: boolean } = {}): Promise<{ ingest: Ingest; agent: AgentRow; machine: MachineRow }> {
  let n = 0;
  const ingest = new Ingest(store, new DetectionEngine(loadRulesDir(), { latenessMs: 5 * 60_000 }), { now: () => Date.UTC(2026, 10, 2) }, () => `${agentId}-${process.pid}-${++n}-${Math.random().toString(36).slice(2)}`, {
    sync: SyncConfigSchema.parse({}), incidentWindowMs: 86_400_000,
  });
  const name = 'lab-host-01';
  const agent: AgentRow = { agentId, keyHash: '', tokenId: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', hostname: name, enrolledAt: 0 };
  if (options.enroll !== false) {
    await store.agents.insertToken({ id: 't', tokenHash: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, revokedAt: null, uses: 0, maxUses: null });
    await store.agents.enrollAgent(agent, 0);
    await store.machines.upsertMachine({
      agentId, resourceId: machineResourceId('s', 'rg', name), name, sqlInstances: [], extensions: [],
      status: 'Connected', lastHeartbeat: 0, lastStatusChange: 0, registeredAt: 0,
      facts: { hostname: name, agentVersion: 'test', detectedProperties: {}, cloudMetadata: { provider: 'N/A' }, osType: 'linux' },
    });
  }
  const machine = (await store.machines.getMachine(agentId))!;
  return { ingest, agent, machine };
}
