/**
 * Seeds a store for the portal page-time pass (issue 15): machines (the lab's personas and
 * synthetic hosts), device events cloned from the scenario library (real tables and action
 * types), alerts from the shipped rules' mappings with their product copies, entities, evidence
 * and incidents, and stored test runs. Bulk inserts through the store's repositories in big
 * transactions; connectors, snapshots and plans go through the REST API afterwards (portal.ts),
 * so the inventory and recommendations are the control plane's own.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MachineFactsSchema, SqlInstanceFactsSchema, machineResourceId, toMachineName, RunResultSchema, type MachineFacts, type RunResult, type SensorEvent } from '../protocol/index.ts';
import { loadLibrary, planEvents } from '../scenarios/index.ts';
import { systemClock } from '../lib/clock.ts';
import type { AlertRow, AlertStatus, MachineRow, Store } from '../control-plane/store/index.ts';
import { createEnrollmentToken, enrollAgent } from '../control-plane/auth/enrollment.ts';
import { loadRulesDir, type AlertMapping } from '../control-plane/detection/index.ts';
import { correlationKeys, entitiesOf } from '../control-plane/alerts/alert-deduper.ts';
import { copiesFor } from '../control-plane/products/alert-copies.ts';
import { SyncConfigSchema } from '../control-plane/products/sync-matrix.ts';
import { refreshIncident } from '../control-plane/incidents/incident-correlator.ts';
import { stormFacts } from './storm-messages.ts';

export const EXAMPLES_DIR = join(import.meta.dirname, '..', 'examples');

export interface SeedOptions {
  /** Arc machines, the lab's two cloud personas included (at least 2). */
  machines: number;
  events: number;
  alerts: number;
  /** Stored test runs (more than a page of the runs list, 50). */
  runs: number;
  /** Share of all events on the busiest machine (the lab host the agent runs on), 0..1. */
  busiestShare: number;
  /** Events and alerts lie in the `spanMs` before `now`. */
  now: number;
  spanMs: number;
  log: (line: string) => void;
}

export interface SeedResult {
  machines: MachineRow[];
  /** The machine with the most events (the timeline worst case). */
  busiest: MachineRow;
  /** The busiest machine's rarest action type and how many of its events have it. */
  rareAction: { actionType: string; events: number; ofEvents: number };
  /** A process event of the busiest machine (its detail pane and process tree). */
  processEvent: string;
  alertIds: string[];
  incidentIds: string[];
  runIds: string[];
  eventsMs: number;
  alertsMs: number;
}

/** A deterministic generator (mulberry32), so two seeds of one size are the same store. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The lab subscription and resource group: the example connectors' (examples/cspm/connector-aws-lab.json). */
export function labScope(): { subscription: string; resourceGroup: string } {
  const c = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'cspm', 'connector-aws-lab.json'), 'utf8')) as { subscription: string; resourceGroup: string };
  return { subscription: c.subscription, resourceGroup: c.resourceGroup };
}

/** Machines: the EC2 and GCP personas of the lab (they merge with the connectors' instances), then synthetic on-premises hosts. */
async function seedMachines(store: Store, count: number, now: number): Promise<MachineRow[]> {
  const { subscription, resourceGroup } = labScope();
  const token = await createEnrollmentToken(store, { subscription, resourceGroup, ttlMs: 3_600_000 }, systemClock);
  const personas = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'cspm', 'persona-facts.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  const raw: Array<Record<string, unknown>> = [...Object.values(personas)];
  for (let i = 0; raw.length < count; i++) {
    const f = stormFacts(i);
    const windows = i % 4 === 3;
    raw.push({
      ...f, hostname: `lab-host-${String(i).padStart(4, '0')}`, agentVersion: '0.1.0',
      ...(windows ? { osType: 'windows', osName: 'windows', osSku: 'Windows Server 2022 Datacenter' } : { osSku: 'Ubuntu 24.04 LTS' }),
      detectedProperties: { logicalCoreCount: '4', totalPhysicalMemoryInGigabytes: '16' },
    });
  }
  const rows: MachineRow[] = [];
  for (const [i, r] of raw.entries()) {
    const facts: MachineFacts = MachineFactsSchema.parse(r);
    const e = await enrollAgent(store, token.token, facts.hostname, systemClock);
    const name = toMachineName(facts.hostname);
    const windows = facts.osType === 'windows';
    rows.push(await store.machines.upsertMachine({
      agentId: e.agentId, resourceId: machineResourceId(subscription, resourceGroup, name), name, facts,
      sqlInstances: windows && i % 8 === 1 ? [SqlInstanceFactsSchema.parse({ instanceName: 'MSSQLSERVER', engine: 'sqlserver', version: '16.0.4135.4', edition: 'Standard', discoveredBy: 'process' })] : [],
      extensions: [{ name: windows ? 'MDE.Windows' : 'MDE.Linux', publisher: 'Microsoft.Azure.AzureDefenderForServers', status: 'Succeeded' }],
      status: i % 25 === 24 ? 'Disconnected' : 'Connected', lastHeartbeat: now, lastStatusChange: now - 86_400_000, registeredAt: now - 30 * 86_400_000,
    }));
  }
  return rows;
}

/** One template per event of every library scenario's attack and benign playback (real tables, action types, fields). */
function eventTemplates(): SensorEvent[] {
  const out: SensorEvent[] = [];
  for (const s of loadLibrary().values()) {
    for (const variant of ['attack', 'benign'] as const) {
      if (variant === 'benign' && !s.benign) continue;
      try {
        out.push(...planEvents(s, { variant, detonationId: 'template', device: { id: 'template', name: 'template' }, startTime: 0, seed: `portal/${s.slug}/${variant}` }).map((p) => p.event));
      } catch {
        // A scenario that cannot be planned without a live host (none today) just adds no template.
      }
    }
  }
  return out;
}

const RARE_KEEP = 0.02;
const actionOf = (e: SensorEvent): string => String((e as unknown as Record<string, unknown>).ActionType ?? '');

/** The action type of the fewest templates (ties: by name). */
function rareActionType(templates: SensorEvent[]): string {
  const counts = new Map<string, number>();
  for (const t of templates) if (actionOf(t)) counts.set(actionOf(t), (counts.get(actionOf(t)) ?? 0) + 1);
  return [...counts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? '';
}

/** Events per machine: `busiestShare` on machine 0, the rest evenly. */
function eventShares(total: number, machines: number, busiestShare: number): number[] {
  const busiest = machines === 1 ? total : Math.round(total * busiestShare);
  const rest = total - busiest;
  return Array.from({ length: machines }, (_, i) => (i === 0 ? busiest : Math.floor(rest / (machines - 1)) + (i - 1 < rest % (machines - 1) ? 1 : 0)));
}

/** Alerts pick machines the way events do, so the busiest host also has the most alerts. */
function pickMachine(r: () => number, machines: number, busiestShare: number): number {
  return machines === 1 || r() < busiestShare ? 0 : 1 + Math.floor(r() * (machines - 1));
}

const EVENTS_PER_TX = 20_000;
const ALERTS_PER_TX = 500;

export async function seedPortalStore(store: Store, o: SeedOptions): Promise<SeedResult> {
  const r = rng(15);
  // Machine 0 is the busiest: the lab's own host, with its agent's events and alerts.
  const machines = await seedMachines(store, Math.max(2, o.machines), o.now);
  const busiest = machines[0]!;
  o.log(`seeded ${machines.length} machines`);

  const t0 = performance.now();
  const templates = eventTemplates();
  // A rare action type, as real timelines have (one scenario's): its templates are picked 1 time in
  // 50, so on the busiest machine a filter on it finds a handful of rows among 100,000.
  const rare = rareActionType(templates);
  const common = templates.filter((t) => actionOf(t) !== rare);
  const shares = eventShares(o.events, machines.length, o.busiestShare);
  const evidence = new Map<string, SensorEvent[]>();
  const actionCounts = new Map<string, number>();
  let processEvent = '';
  let written = 0;
  for (const [mi, m] of machines.entries()) {
    const n = shares[mi]!;
    const kept: SensorEvent[] = [];
    for (let start = 0; start < n; start += EVENTS_PER_TX) {
      const chunk: SensorEvent[] = [];
      for (let k = start; k < Math.min(n, start + EVENTS_PER_TX); k++) {
        let t = templates[Math.floor(r() * templates.length)]!;
        if (actionOf(t) === rare && r() >= RARE_KEEP) t = common[Math.floor(r() * common.length)]!;
        // Spread over the span, oldest first; a jitter under the step keeps times distinct-ish and realistic.
        const ts = o.now - o.spanMs + Math.floor(((k + r()) / n) * o.spanMs);
        const e = { ...t, ReportId: randomUUID(), DeviceId: m.agentId, DeviceName: m.facts.hostname, Timestamp: new Date(ts).toISOString() } as SensorEvent & { DetonationId?: string };
        delete e.DetonationId;
        chunk.push(e);
        if (mi === 0) {
          const a = actionOf(e);
          if (a) actionCounts.set(a, (actionCounts.get(a) ?? 0) + 1);
          if (!processEvent && e.Table === 'DeviceProcessEvents' && k > n / 2) processEvent = e.ReportId;
        }
        if (kept.length < 40 && r() < 0.01) kept.push(e);
      }
      await store.transaction((tx) => tx.events.insertEvents(m.agentId, chunk, o.now));
      written += chunk.length;
      if (written % 200_000 < chunk.length) o.log(`  ${written.toLocaleString('en-US')} events`);
    }
    evidence.set(m.agentId, kept);
  }
  const eventsMs = performance.now() - t0;
  const [rareType, rareCount] = [...actionCounts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0] ?? ['', 0];
  o.log(`seeded ${written.toLocaleString('en-US')} events in ${(eventsMs / 1000).toFixed(1)} s`);

  const t1 = performance.now();
  const rules = loadRulesDir();
  const mappings = [...rules.detections, ...rules.correlations].flatMap((x) => (x.mapping ? [{ rule: x, mapping: x.mapping as AlertMapping }] : []));
  const sync = SyncConfigSchema.parse({});
  const statuses: AlertStatus[] = ['Active', 'Active', 'Active', 'Active', 'Active', 'Active', 'InProgress', 'Resolved', 'Resolved', 'Dismissed'];
  const alertIds: string[] = [];
  const incidentOf = new Map<string, string>();
  const incidentIds: string[] = [];
  for (let start = 0; start < o.alerts; start += ALERTS_PER_TX) {
    await store.transaction(async (tx) => {
      const touched = new Set<string>();
      for (let i = start; i < Math.min(o.alerts, start + ALERTS_PER_TX); i++) {
        const mi = pickMachine(r, machines.length, o.busiestShare);
        const m = machines[mi]!;
        const { rule, mapping } = mappings[Math.floor(r() * mappings.length)]!;
        const ev = evidence.get(m.agentId) ?? [];
        const trigger = ev[Math.floor(r() * ev.length)];
        const end = o.now - Math.floor(r() * o.spanMs);
        const status = statuses[Math.floor(r() * statuses.length)]!;
        const candidate: AlertRow = {
          systemAlertId: randomUUID(), dedupKey: JSON.stringify([mapping.alertType, m.resourceId, `bench-${i}`]), alertType: mapping.alertType, ruleId: rule.id,
          agentId: m.agentId, resourceId: m.resourceId, severity: mapping.severity, status, count: 1 + Math.floor(r() * 3),
          startTime: end - Math.floor(r() * 600_000), endTime: end, timeGenerated: end + 2_000, updatedAt: end + 2_000, latencyMs: Math.round(r() * 40_000) / 1000,
          properties: {
            alertDisplayName: mapping.alertDisplayName, description: mapping.description, intent: mapping.intent.join(','), detectingProduct: mapping.product,
            remediationSteps: mapping.remediationSteps, ruleTitle: rule.title,
            techniques: rule.techniques.filter((t) => !t.includes('.')), subTechniques: rule.techniques.filter((t) => t.includes('.')),
            compromisedEntity: m.name, entities: trigger ? entitiesOf(trigger, m) : entitiesOf({ Table: 'DeviceEvents' } as SensorEvent, m),
            location: { ...labScope(), location: 'eastus' },
          },
        };
        const { alert } = await tx.alerts.upsertAlert(candidate, 0);
        await tx.alerts.insertAlertCopies(copiesFor(alert, sync, randomUUID, alert.updatedAt, m.facts.osType === 'windows'));
        await tx.alerts.addAlertEntities(alert.systemAlertId, correlationKeys(alert, m.facts.hostname), alert.endTime);
        await tx.alerts.addAlertSource({ systemAlertId: alert.systemAlertId, kind: 'agent', resourceId: m.resourceId, detail: String(mapping.product), firstTime: alert.startTime, lastTime: alert.endTime, count: alert.count });
        if (trigger) await tx.alerts.linkAlertEvents(alert.systemAlertId, [{ reportId: trigger.ReportId, detonationId: null }]);
        // One incident per machine and three days, as correlation on the shared asset would group them.
        const key = `${mi}:${Math.floor(end / (3 * 86_400_000))}`;
        let incidentId = incidentOf.get(key);
        if (!incidentId) {
          incidentId = randomUUID();
          await tx.incidents.insertIncident({
            incidentId, title: String(mapping.alertDisplayName), severity: alert.severity, status: 'Active', sentinelStatus: null,
            createdAt: alert.timeGenerated, updatedAt: alert.timeGenerated, firstActivity: alert.startTime, lastActivity: alert.endTime, redirectedTo: null,
          });
          incidentOf.set(key, incidentId);
          incidentIds.push(incidentId);
        }
        await tx.incidents.addIncidentAlert(incidentId, alert.systemAlertId, alert.timeGenerated);
        touched.add(incidentId);
        alertIds.push(alert.systemAlertId);
      }
      for (const id of touched) await refreshIncident(tx, id, o.now);
    });
  }
  const alertsMs = performance.now() - t1;
  o.log(`seeded ${alertIds.length.toLocaleString('en-US')} alerts in ${incidentIds.length.toLocaleString('en-US')} incidents in ${(alertsMs / 1000).toFixed(1)} s`);

  const runIds = await seedRuns(store, machines.slice(0, 4), o.runs, o.now, r);
  o.log(`seeded ${runIds.length} test runs`);
  return {
    machines, busiest, rareAction: { actionType: rareType, events: rareCount, ofEvents: shares[0]! },
    processEvent, alertIds, incidentIds, runIds, eventsMs, alertsMs,
  };
}

/** Stored runs of a suite of every library scenario (attack and benign) on four hosts, as `arcsim run` stores them. */
async function seedRuns(store: Store, hosts: MachineRow[], count: number, now: number, r: () => number): Promise<string[]> {
  const library = [...loadLibrary().values()];
  const rows = library.flatMap((s) => [
    { rowId: s.slug, kind: 'scenario' as const, scenario: s.slug, variant: 'attack' as const },
    ...(s.benign ? [{ rowId: `${s.slug}-benign`, kind: 'scenario' as const, scenario: s.slug, variant: 'benign' as const }] : []),
  ]);
  const ids: string[] = [];
  for (let k = 0; k < count; k++) {
    const started = now - (count - k) * 3_600_000;
    const cells = rows.flatMap((row) => hosts.map((h) => {
      const pass = r() < 0.9;
      const alertType = library.find((s) => s.slug === row.scenario)?.expect.alerts[0]?.alertType;
      return {
        cellId: `${row.rowId}@${h.name}`, rowId: row.rowId, kind: row.kind, scenario: row.scenario, variant: row.variant, host: h.name, agentId: h.agentId,
        cloud: h.facts.cloudMetadata.provider, status: pass ? 'pass' as const : 'fail' as const, reasons: pass ? [] : ['alert missing' as const],
        checks: [{ name: 'telemetry', status: 'pass' as const, detail: 'events stored' }], detonationIds: [randomUUID()], events: { played: 12, stored: 12 },
        alerts: row.variant === 'attack' && alertType && pass
          ? [{ systemAlertId: randomUUID(), alertType, displayName: alertType, count: 1, latencyMs: Math.round(r() * 3000), products: { MDC: 'Active', MDE: 'Active' }, incidentId: null, techniques: [], detonationIds: [] }]
          : [],
        durationMs: 2000, techniques: [],
      };
    }));
    const pass = cells.filter((c) => c.status === 'pass').length;
    const result: RunResult = RunResultSchema.parse({
      runId: `run-${String(k).padStart(4, '0')}-${randomUUID().slice(0, 8)}`, suite: { name: 'multi-cloud' }, controlPlane: 'http://127.0.0.1', syncProfile: null,
      startedAt: new Date(started).toISOString(), finishedAt: new Date(started + 600_000).toISOString(), durationMs: 600_000, ok: pass === cells.length,
      summary: { cells: cells.length, pass, fail: cells.length - pass, notRun: 0, notChecked: 0 },
      hosts: hosts.map((h) => ({ column: h.name, agentId: h.agentId, name: h.name, cloud: h.facts.cloudMetadata.provider, os: h.facts.osType, persona: null, connected: true, selectors: ['all'] })),
      rows, cells, coverage: { exercised: [], detected: [] },
    });
    await store.runs.insertTestRun({
      runId: result.runId, suiteName: result.suite.name, startedAt: started, finishedAt: started + 600_000, ok: result.ok, summary: result.summary,
      suite: { name: 'multi-cloud' }, result: result as unknown as Record<string, unknown>,
      cells: result.cells.map((c) => ({ cellId: c.cellId, rowId: c.rowId, host: c.host, status: c.status, reasons: c.reasons })),
    });
    ids.push(result.runId);
  }
  return ids;
}
