import { EventSchema, machineResourceId, protocolError, toMachineName, type SensorEvent } from '../../protocol/index.ts';
import { issuePath } from '../../protocol/errors.ts';
import { systemClock } from '../../lib/clock.ts';
import { VERSION } from '../../lib/version.ts';
import { openSqliteStore, type AlertRow, type MachineRow } from '../store/index.ts';
import { Ingest } from '../ingest/ingest.ts';
import { SyncConfigSchema } from '../products/sync-matrix.ts';
import { DetectionEngine } from './detection-engine.ts';
import { loadRulesDir } from './rule-loader.ts';

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
 * as the control plane, on a throwaway in-memory store, with unbounded lateness so file order
 * does not matter. Returns the alerts, oldest first.
 */
export async function detectOffline(events: SensorEvent[], options: { rulesDir?: string } = {}): Promise<AlertRow[]> {
  const store = openSqliteStore({ file: ':memory:' });
  try {
    const rules = loadRulesDir(options.rulesDir);
    const engine = new DetectionEngine(rules, { latenessMs: Number.MAX_SAFE_INTEGER / 4 });
    let n = 0;
    const ingest = new Ingest(store, engine, systemClock, () => `offline-${String(++n).padStart(6, '0')}`, {
      sync: SyncConfigSchema.parse({}), incidentWindowMs: 86_400_000,
    });
    const byDevice = new Map<string, SensorEvent[]>();
    for (const e of events) byDevice.set(e.DeviceId, [...(byDevice.get(e.DeviceId) ?? []), e]);
    for (const [deviceId, list] of byDevice) {
      const name = toMachineName(list[0]!.DeviceName);
      const resourceId = machineResourceId('offline', 'offline', name);
      const agent = { agentId: deviceId, keyHash: '', tokenId: '', subscription: 'offline', resourceGroup: 'offline', location: 'eastus', hostname: name, enrolledAt: 0 };
      const machine: MachineRow = {
        agentId: deviceId, resourceId, name, sqlInstances: [], extensions: [], status: 'Connected', lastHeartbeat: 0, lastStatusChange: 0, registeredAt: 0,
        facts: { hostname: list[0]!.DeviceName, agentVersion: VERSION, detectedProperties: {}, cloudMetadata: { provider: 'N/A' } },
      };
      await ingest.ingestBatch(agent, machine, list);
    }
    return await store.listAlerts();
  } finally {
    await store.close();
  }
}
