import assert from 'node:assert/strict';
import { machineResourceId, toMachineName, type SensorEvent } from '../../protocol/index.ts';
import { ManualClock } from '../../lib/clock.ts';
import { openSqliteStore, type AgentRow, type MachineRow, type Store } from '../../control-plane/store/index.ts';
import { Ingest } from '../../control-plane/ingest/ingest.ts';
import { SyncConfigSchema } from '../../control-plane/products/sync-matrix.ts';
import { DetectionEngine } from '../../control-plane/detection/index.ts';
import { detectAlertsWorkload } from './detect-alerts-workload.ts';

/** Events per batch, as an agent sends them (one device's consecutive events). */
const BATCH = 40;

/**
 * The live ingest path (Ingest with products, incidents, sources and event links; one
 * transaction per batch) over the workload of detect-alerts-workload.ts, every device an Arc
 * machine of its simulated OS, on an injected clock (1 s per batch) with counter ids; `groupOf`
 * consecutive batches per transaction (default 1), on `options.store` (default: a new in-memory
 * SQLite store, closed after; a given store is left open). Returns
 * what the store then holds about alerts: the alert rows, each one's sources and linked events,
 * and the incidents with their alerts.
 */
/**
 * An incident as the pinned fixtures record it. The triage fields (classification, determination,
 * assignedTo: migration 024) came after those pins; an incident that detection raises has Graph's
 * defaults for them (`unknown`, `unknown`, no owner), checked here, and they are left out of the
 * comparison with the pinned rows.
 */
export function incidentAsPinned<T extends { classification?: unknown; determination?: unknown; assignedTo?: unknown }>(x: T): Omit<T, 'classification' | 'determination' | 'assignedTo'> {
  const { classification, determination, assignedTo, ...rest } = x;
  assert.deepEqual({ classification, determination, assignedTo }, { classification: 'unknown', determination: 'unknown', assignedTo: null });
  return rest;
}

/**
 * Ingests `batches` in order — groupOf 1: one transaction per batch (ingestBatch); more: that many
 * consecutive batches per transaction (the gateway's group commit) — closes every open window,
 * and returns the stored alerts (sources, linked events) and incidents (their alerts) as the
 * pinned fixtures record them.
 */
export async function ingestAndCollect(
  store: Store, ingest: Ingest, batches: ReadonlyArray<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[] }>, groupOf: number,
): Promise<{ alerts: unknown[]; incidents: unknown[] }> {
  for (let i = 0; i < batches.length; i += groupOf) {
    if (groupOf === 1) await ingest.ingestBatch(batches[i]!.agent, batches[i]!.machine, batches[i]!.events);
    else await ingest.ingestGroup(batches.slice(i, i + groupOf));
  }
  await ingest.closeAll();
  const alerts = await store.alerts.listAlerts();
  const incidents = await store.incidents.listIncidents();
  return {
    alerts: await Promise.all(alerts.map(async (a) => ({ ...a, latencyMs: null, sources: await store.alerts.alertSources(a.systemAlertId), events: await store.alerts.alertEvents(a.systemAlertId) }))),
    incidents: await Promise.all(incidents.map(async (x) => ({ ...incidentAsPinned(x), alerts: await store.incidents.incidentAlertIds(x.incidentId) }))),
  };
}

export async function ingestFoldsState(options: { groupOf?: number; store?: Store } = {}): Promise<unknown> {
  const groupOf = options.groupOf ?? 1;
  const w = detectAlertsWorkload();
  const store = options.store ?? openSqliteStore({ file: ':memory:' });
  try {
    const manual = new ManualClock(Date.UTC(2026, 5, 1));
    // 1 s per batch: Ingest reads the clock once per batch (and once to close), so a clock that
    // moves on every read gives each batch the same time whether it commits alone or in a group.
    const clock = { now: () => { const t = manual.now(); manual.advance(1000); return t; } };
    let n = 0;
    const ingest = new Ingest(store, new DetectionEngine(w.rules, { latenessMs: 0 }), clock, () => `id-${String(++n).padStart(6, '0')}`, {
      sync: SyncConfigSchema.parse({}), incidentWindowMs: 86_400_000,
    });
    await store.agents.insertToken({ id: 't', tokenHash: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, revokedAt: null, uses: 0, maxUses: null });
    const hosts = new Map<string, { agent: AgentRow; machine: MachineRow }>();
    for (const e of w.events) {
      if (hosts.has(e.DeviceId)) continue;
      const name = toMachineName(e.DeviceName);
      const agent: AgentRow = { agentId: e.DeviceId, keyHash: '', tokenId: 't', subscription: 's', resourceGroup: 'rg', location: 'eastus', hostname: name, enrolledAt: 0 };
      await store.agents.enrollAgent(agent, 0);
      const os = w.deviceOs.get(e.DeviceId);
      const machine = await store.machines.upsertMachine({
        agentId: e.DeviceId, resourceId: machineResourceId('s', 'rg', name), name, sqlInstances: [], extensions: [],
        status: 'Connected', lastHeartbeat: 0, lastStatusChange: 0, registeredAt: 0,
        facts: { hostname: e.DeviceName, agentVersion: 'test', detectedProperties: {}, cloudMetadata: { provider: 'N/A' }, ...(os ? { osType: os === 'macos' ? 'darwin' : os } : {}) },
      });
      hosts.set(e.DeviceId, { agent, machine });
    }
    const ordered = [...w.events].sort((a, b) => Date.parse(a.Timestamp) - Date.parse(b.Timestamp));
    const batches: Array<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[] }> = [];
    for (let i = 0; i < ordered.length;) {
      const device = ordered[i]!.DeviceId;
      const batch: SensorEvent[] = [];
      while (i < ordered.length && ordered[i]!.DeviceId === device && batch.length < BATCH) batch.push(ordered[i++]!);
      batches.push({ ...hosts.get(device)!, events: batch });
    }
    return await ingestAndCollect(store, ingest, batches, groupOf);
  } finally {
    if (!options.store) await store.close();
  }
}
