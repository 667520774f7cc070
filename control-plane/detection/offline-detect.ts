import { EventSchema, machineResourceId, protocolError, toMachineName, type SensorEvent } from '../../protocol/index.ts';
import { issuePath } from '../../protocol/errors.ts';
import { systemClock } from '../../lib/clock.ts';
import { VERSION } from '../../lib/version.ts';
import { openSqliteStore, type AgentRow, type AlertRow, type MachineRow } from '../store/index.ts';
import { Ingest } from '../ingest/ingest.ts';
import { SyncConfigSchema } from '../products/sync-matrix.ts';
import { DetectionEngine } from './detection-engine.ts';
import { loadRulesDir, type RuleSet } from './rule-loader.ts';

/** Parses NDJSON events (one per line, blank lines ignored); a bad line is an error naming its line. */
export function parseEventsNdjson(text: string, file = 'events'): SensorEvent[] {
  const out: SensorEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw protocolError('ARCSIM_E_VALIDATION', `${file}:${i + 1}: not JSON (${(err as Error).message})`, `line ${i + 1}`);
    }
    const r = EventSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw protocolError('ARCSIM_E_VALIDATION', `${file}:${i + 1}: ${issuePath(issue.path)}: ${issue.message}`, `line ${i + 1}.${issuePath(issue.path)}`);
    }
    out.push(r.data);
  });
  return out;
}

/**
 * Runs the rules over recorded events, like wazuh-logtest: the same streaming engine and dedup
 * as the control plane, on a throwaway in-memory store. Events are replayed in event-time order
 * (so file order does not matter), and at the end of the stream every window still open is
 * decided. Returns the alerts, oldest first.
 */
export async function detectOffline(events: SensorEvent[], options: { rulesDir?: string; rules?: RuleSet } = {}): Promise<AlertRow[]> {
  const store = openSqliteStore({ file: ':memory:' });
  try {
    const rules = options.rules ?? loadRulesDir(options.rulesDir);
    const engine = new DetectionEngine(rules, { latenessMs: 0 });
    let n = 0;
    const ingest = new Ingest(store, engine, systemClock, () => `offline-${String(++n).padStart(6, '0')}`, {
      sync: SyncConfigSchema.parse({}), incidentWindowMs: 86_400_000,
    });
    // Each device the events name is registered as an Arc machine, as an agent would be.
    await store.agents.insertToken({ id: 'offline', tokenHash: 'offline', subscription: 'offline', resourceGroup: 'offline', location: 'eastus', createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, revokedAt: null, uses: 0, maxUses: null });
    const hosts = new Map<string, { agent: AgentRow; machine: MachineRow }>();
    for (const e of events) {
      if (hosts.has(e.DeviceId)) continue;
      const name = toMachineName(e.DeviceName);
      const agent: AgentRow = { agentId: e.DeviceId, keyHash: '', tokenId: 'offline', subscription: 'offline', resourceGroup: 'offline', location: 'eastus', hostname: name, enrolledAt: 0 };
      await store.agents.enrollAgent(agent, 0);
      const machine = await store.machines.upsertMachine({
        agentId: e.DeviceId, resourceId: machineResourceId('offline', 'offline', name), name, sqlInstances: [], extensions: [],
        status: 'Connected', lastHeartbeat: 0, lastStatusChange: 0, registeredAt: 0,
        facts: { hostname: e.DeviceName, agentVersion: VERSION, detectedProperties: {}, cloudMetadata: { provider: 'N/A' } },
      });
      hosts.set(e.DeviceId, { agent, machine });
    }
    const ordered = [...events].sort((a, b) => Date.parse(a.Timestamp) - Date.parse(b.Timestamp));
    for (let i = 0; i < ordered.length;) {
      // Consecutive events of one device form one batch, as an agent would send them.
      const device = ordered[i]!.DeviceId;
      const batch: SensorEvent[] = [];
      while (i < ordered.length && ordered[i]!.DeviceId === device) batch.push(ordered[i++]!);
      const host = hosts.get(device)!;
      await ingest.ingestBatch(host.agent, host.machine, batch);
    }
    await ingest.closeAll();
    return await store.alerts.listAlerts();
  } finally {
    await store.close();
  }
}
