import { EventSchema, machineResourceId, protocolError, toMachineName, type SensorEvent } from '../../protocol/index.ts';
import { issuePath } from '../../protocol/errors.ts';
import { systemClock } from '../../lib/clock.ts';
import { VERSION } from '../../lib/version.ts';
import { openSqliteStore, type AgentRow, type AlertRow, type MachineRow } from '../store/index.ts';
import { Ingest } from '../ingest/ingest.ts';
import { SyncConfigSchema } from '../products/sync-matrix.ts';
import { DetectionEngine } from './detection-engine.ts';
import { loadRulesDir, type RuleSet } from './rule-loader.ts';
import { osFamilyOf, type OsFamily } from './rule-index.ts';

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

export interface OfflineOptions {
  rulesDir?: string;
  rules?: RuleSet;
  /**
   * Simulated hosts' OS, by DeviceId (an `osType` fact — windows, linux, darwin — or an MDE
   * OSPlatform): every event of such a device, scenario playbacks included, stands for that OS
   * (e.g. the platform `arcsim coverage` played an Atomic test on).
   */
  deviceOs?: ReadonlyMap<string, string>;
  /** The host OS of devices without a DeviceInfo row (e.g. windows for Windows event logs); default: unknown. */
  defaultOs?: string;
}

export interface OfflineResult {
  /** The alerts, oldest first. */
  alerts: AlertRow[];
  /** Devices (DeviceId) in the events. */
  devices: number;
  /** Devices whose OS family is unknown: every rule ran on their events, whatever its logsource.product. */
  unknownOs: string[];
  /** Scenario-playback events (DetonationId) of devices not in `deviceOs`: every rule ran on them (see Ingest). */
  playbackEvents: number;
}

/**
 * The host OS family of each device, as the control plane would know it from the machine's facts:
 * its DeviceInfo rows' OSPlatform (the agent sends them from the host's real facts), else
 * `defaultOs`; undefined when none says. A device in `deviceOs` is a simulated host of that OS.
 */
function deviceFamilies(events: SensorEvent[], options: OfflineOptions): Map<string, OsFamily | undefined> {
  const out = new Map<string, OsFamily | undefined>();
  for (const [device, os] of options.deviceOs ?? []) if (osFamilyOf(os)) out.set(device, osFamilyOf(os));
  for (const e of events) {
    if (e.Table === 'DeviceInfo' && !options.deviceOs?.has(e.DeviceId)) {
      const family = osFamilyOf((e as { OSPlatform?: string }).OSPlatform);
      if (family) out.set(e.DeviceId, family);
    }
  }
  for (const e of events) if (!out.has(e.DeviceId)) out.set(e.DeviceId, osFamilyOf(options.defaultOs));
  return out;
}

/** Events per transaction when replaying a recording. */
const OFFLINE_CHUNK = 50_000;

const OS_TYPE: Record<OsFamily, string> = { windows: 'windows', linux: 'linux', macos: 'darwin' };

/**
 * Runs the rules over recorded events, like wazuh-logtest: the same streaming engine and dedup
 * as the control plane, on a throwaway in-memory store (a scratch store: see SqliteStoreOptions).
 * Events are replayed in event-time order (so file order does not matter), and at the end of the
 * stream every window still open is decided. Returns the alerts, oldest first. Only what the alert rows need is kept (Ingest's
 * `alertsOnly`): no product copies, incidents, entity index or alert-event links.
 */
export async function detectOffline(events: SensorEvent[], options: OfflineOptions = {}): Promise<AlertRow[]> {
  return (await runOfflineDetection(events, options)).alerts;
}

/** detectOffline, and what it knew of the devices' OS (rules of another OS family are not run on a device's events). */
export async function runOfflineDetection(events: SensorEvent[], options: OfflineOptions = {}): Promise<OfflineResult> {
  const families = deviceFamilies(events, options);
  // Scratch: the run reads its events back only by ReportId (closing windows), so the indexes
  // for other reads are not maintained on every insert. Same tables, dedup and engine.
  const store = openSqliteStore({ file: ':memory:', scratch: true });
  try {
    const rules = options.rules ?? loadRulesDir(options.rulesDir);
    const engine = new DetectionEngine(rules, { latenessMs: 0 });
    let n = 0;
    const ingest = new Ingest(store, engine, systemClock, () => `offline-${String(++n).padStart(6, '0')}`, {
      sync: SyncConfigSchema.parse({}), incidentWindowMs: 86_400_000, alertsOnly: true,
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
        facts: { hostname: e.DeviceName, agentVersion: VERSION, detectedProperties: {}, cloudMetadata: { provider: 'N/A' }, ...osFact(families.get(e.DeviceId)) },
      });
      hosts.set(e.DeviceId, { agent, machine });
    }
    // Each Timestamp parsed once (not twice per comparison); the sort is stable, as before.
    const times = new Map<SensorEvent, number>();
    for (const e of events) times.set(e, Date.parse(e.Timestamp));
    const ordered = [...events].sort((a, b) => times.get(a)! - times.get(b)!);
    let chunk: Array<{ agent: AgentRow; machine: MachineRow; events: SensorEvent[] }> = [];
    let inChunk = 0;
    for (let i = 0; i < ordered.length;) {
      // Consecutive events of one device form one batch, as an agent would send them; batches are
      // committed OFFLINE_CHUNK events at a time (nothing waits on each commit, unlike an agent's ack).
      const device = ordered[i]!.DeviceId;
      const batch: SensorEvent[] = [];
      while (i < ordered.length && ordered[i]!.DeviceId === device) batch.push(ordered[i++]!);
      const simulatedOs = options.deviceOs?.has(device) ? families.get(device) : undefined;
      chunk.push({ ...hosts.get(device)!, events: batch, ...(simulatedOs ? { simulatedOs } : {}) });
      inChunk += batch.length;
      if (inChunk >= OFFLINE_CHUNK || i === ordered.length) {
        await ingest.ingestBatches(chunk);
        chunk = [];
        inChunk = 0;
      }
    }
    await ingest.closeAll();
    const unknownOs = [...families].filter(([, f]) => f === undefined).map(([d]) => d);
    const playbackEvents = events.filter((e) => e.DetonationId && !options.deviceOs?.has(e.DeviceId) && families.get(e.DeviceId)).length;
    return { alerts: await store.alerts.listAlerts(), devices: families.size, unknownOs, playbackEvents };
  } finally {
    await store.close();
  }
}

function osFact(family: OsFamily | undefined): { osType?: string } {
  return family ? { osType: OS_TYPE[family] } : {};
}
