import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SensorEvent } from '../protocol/index.ts';
import { DEFAULT_RULES_DIR, reportRulesDirs, type RuleSet } from '../control-plane/detection/index.ts';
import { runOfflineDetection } from '../control-plane/detection/offline-detect.ts';
import { playAtomics } from '../testruns/coverage/coverage.ts';
import { buildWorkload } from './workload.ts';
import { runFullPath, type FullPathResult } from './full-path.ts';
import { machineCpu } from './machine-cpu.ts';

/**
 * Detection at SigmaHQ scale (issue 13, item 9): `npm run bench -- --rules DIR...`.
 *
 * Two rule sets, measured on the same events in the same run: the shipped rules, and the shipped
 * rules plus every rule of the given folders that loads (rule by rule, as `arcsim detect` loads
 * them).
 *
 * - **Offline**: `runOfflineDetection` — what `arcsim detect` runs after reading its file: the
 *   control plane's engine, Ingest and dedup on an in-memory SQLite store — over a workload of
 *   events, timed on one core (this process; JavaScript and SQLite run on its one thread).
 * - **Live**: the full ingest path of the ingest benchmark (1 agent over WebSocket), once per rule
 *   set, on the bench workload.
 */
export interface DetectSpeedOptions {
  rulesDirs: string[];
  /** An Atomic Red Team `atomics/` folder: the offline events are its tests, played; default: the bench workload. */
  atomicsDir: string | undefined;
  /** Events of the offline pass (rounds of the workload until at least this many). */
  events: number;
  /** Events of each live pass. */
  liveEvents: number;
  batch: number;
  window: number;
  dir: string;
  log: (line: string) => void;
}

export interface OfflineFigures {
  rules: number;
  events: number;
  ms: number;
  /** CPU time of this process during the pass, ms. */
  cpuMs: number;
  /** CPU used by everything else on the machine during the pass, as a share of one core. */
  otherCpu: number;
  eventsPerSecond: number;
  alerts: number;
  occurrences: number;
}

export interface LiveFigures {
  rules: number;
  events: number;
  eventsPerSecond: number;
  cpuUsPerEvent: number;
  alerts: number;
  occurrences: number;
  stored: number;
  errors: string[];
}

export interface DetectSpeedResult {
  rulesDirs: string[];
  /** Rules loaded / refused from the given folders (besides the shipped ones). */
  loaded: number;
  refused: number;
  workload: string;
  offline: { shipped: OfflineFigures; all: OfflineFigures; ratio: number };
  live: { shipped: LiveFigures; all: LiveFigures; ratio: number };
  /** The targets: offline >= 20,000 events/s with every rule; live with every rule >= 50 % of live with the shipped ones. */
  targets: { offline: boolean; live: boolean };
}

export const OFFLINE_TARGET_EPS = 20_000;
export const LIVE_TARGET_RATIO = 0.5;

/** One hour, ms: the rounds of the offline workload repeat this far apart on the same hosts. */
const ROUND_MS = 3_600_000;

/**
 * The offline workload: `base` (one round) repeated on the same hosts, each round ROUND_MS later
 * than the one before, every event with its own ReportId (UUIDv7, the round and position in
 * its last 12 hex digits), until at least `total` events.
 */
export function repeatRounds(base: SensorEvent[], total: number): SensorEvent[] {
  const out: SensorEvent[] = [];
  let n = 0;
  for (let round = 0; out.length < total; round++) {
    for (const e of base) {
      out.push({ ...e, Timestamp: new Date(Date.parse(e.Timestamp) + round * ROUND_MS).toISOString(), ReportId: e.ReportId.slice(0, 24) + (n++).toString(16).padStart(12, '0') });
    }
  }
  return out;
}

/**
 * The Atomic tests under `atomicsDir`, played as `arcsim coverage` plays them (each test on its
 * own simulated host of its platform) but all in the same hour, two seconds apart, so that the
 * rounds (the corpus re-run every hour) fold into the alerts of the first within the dedup window.
 */
export function atomicRound(atomicsDir: string): { events: SensorEvent[]; deviceOs: Map<string, string> } {
  const played = playAtomics(atomicsDir);
  const deviceOs = new Map([...played.byDevice].map(([d, t]) => [d, t.platform ?? '']));
  const byDevice = new Map<string, SensorEvent[]>();
  for (const e of played.events) byDevice.set(e.DeviceId, [...(byDevice.get(e.DeviceId) ?? []), e]);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const events: SensorEvent[] = [];
  [...byDevice.values()].forEach((list, i) => {
    const first = Date.parse(list[0]!.Timestamp);
    for (const e of list) events.push({ ...e, Timestamp: new Date(start + i * 2000 + (Date.parse(e.Timestamp) - first)).toISOString() });
  });
  events.sort((a, b) => Date.parse(a.Timestamp) - Date.parse(b.Timestamp));
  return { events, deviceOs };
}

/** One round of the ingest benchmark's workload (library scenarios, 4 hosts), as events. */
function benchRound(): SensorEvent[] {
  const agents = Array.from({ length: 4 }, (_, i) => ({ agentId: `bench-host-${i}`, hostname: `bench-host-${i}` }));
  return buildWorkload(agents, 68 * 4, 1000, 'detect').flatMap((w) => w.frames.flatMap((f) => (JSON.parse(f) as { events: SensorEvent[] }).events));
}

async function offlinePass(set: RuleSet, events: SensorEvent[], deviceOs: Map<string, string> | undefined): Promise<OfflineFigures> {
  const cpu0 = process.cpuUsage();
  const machine0 = machineCpu();
  const t0 = performance.now();
  const r = await runOfflineDetection(events, { rules: set, ...(deviceOs ? { deviceOs } : {}) });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const otherMs = Math.max(0, machineCpu().busyMs - machine0.busyMs - cpuMs);
  return {
    rules: set.detections.length + set.correlations.length, events: events.length, ms, cpuMs, otherCpu: otherMs / ms,
    eventsPerSecond: events.length / (ms / 1000), alerts: r.alerts.length, occurrences: r.alerts.reduce((n, a) => n + a.count, 0),
  };
}

function liveFigures(full: FullPathResult, rules: number): LiveFigures {
  return {
    rules, events: full.eventsSent, eventsPerSecond: full.eventsSent / (full.fleet.elapsedMs / 1000), cpuUsPerEvent: (full.serverCpuMs * 1000) / full.eventsSent,
    alerts: full.alertRows, occurrences: full.alertOccurrences, stored: full.eventsStored, errors: full.fleet.errors,
  };
}

export async function runDetectSpeed(o: DetectSpeedOptions): Promise<DetectSpeedResult> {
  const shipped = reportRulesDirs([DEFAULT_RULES_DIR]).set;
  const report = reportRulesDirs([DEFAULT_RULES_DIR, ...o.rulesDirs]);
  const all = report.set;
  const shippedCount = shipped.detections.length + shipped.correlations.length;
  const loaded = all.detections.length + all.correlations.length - shippedCount;
  o.log(`rules: ${shippedCount} shipped; ${loaded} loaded and ${report.refused.length} refused from ${o.rulesDirs.join(', ')}`);

  const round = o.atomicsDir ? atomicRound(o.atomicsDir) : { events: benchRound(), deviceOs: undefined };
  const events = repeatRounds(round.events, o.events);
  const workload = o.atomicsDir
    ? `Atomic Red Team tests of ${o.atomicsDir} played by arcsim's importer (${round.events.length} events, ${round.deviceOs!.size} simulated hosts), re-run every hour on the same hosts: ${events.length} events`
    : `the ingest benchmark's library scenarios (${round.events.length} events on 4 hosts), re-run every hour: ${events.length} events`;
  o.log(`offline workload: ${workload}`);

  // Untimed warm-up (JIT, the index's automata are built per engine, so every pass pays its own).
  const warm = events.slice(0, Math.min(events.length, 4000));
  await offlinePass(shipped, warm, round.deviceOs);
  await offlinePass(all, warm, round.deviceOs);
  const offShipped = await offlinePass(shipped, events, round.deviceOs);
  o.log(`offline, shipped rules: ${Math.round(offShipped.eventsPerSecond)} ev/s`);
  const offAll = await offlinePass(all, events, round.deviceOs);
  o.log(`offline, every rule:    ${Math.round(offAll.eventsPerSecond)} ev/s`);

  const live = async (dirs: string[], id: string) => runFullPath({ dbFile: join(o.dir, `detect-${id}.db`), agents: 1, events: o.liveEvents, batch: o.batch, window: o.window, runId: id, rulesDirs: dirs });
  await live([DEFAULT_RULES_DIR, ...o.rulesDirs], 'warm');
  const liveShipped = liveFigures(await live([DEFAULT_RULES_DIR], 'shipped'), shippedCount);
  o.log(`live, shipped rules: ${Math.round(liveShipped.eventsPerSecond)} ev/s`);
  const liveAll = liveFigures(await live([DEFAULT_RULES_DIR, ...o.rulesDirs], 'all'), shippedCount + loaded);
  o.log(`live, every rule:    ${Math.round(liveAll.eventsPerSecond)} ev/s`);

  const offlineRatio = offAll.eventsPerSecond / offShipped.eventsPerSecond;
  const liveRatio = liveAll.eventsPerSecond / liveShipped.eventsPerSecond;
  return {
    rulesDirs: o.rulesDirs, loaded, refused: report.refused.length, workload,
    offline: { shipped: offShipped, all: offAll, ratio: offlineRatio },
    live: { shipped: liveShipped, all: liveAll, ratio: liveRatio },
    targets: { offline: offAll.eventsPerSecond >= OFFLINE_TARGET_EPS, live: liveRatio >= LIVE_TARGET_RATIO },
  };
}

/** The result as the bench prints it. */
export function formatDetectSpeed(r: DetectSpeedResult): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const lines = [
    `Detection at scale: ${r.loaded} rules loaded (${r.refused} refused) from ${r.rulesDirs.join(', ')}, plus the shipped ones`,
    `  offline workload: ${r.workload}`,
    '',
    'pass     rules   events     ev/s  CPU us/ev  other CPU  alerts  detections',
    '-------  -----  -------  -------  ---------  ---------  ------  ----------',
  ];
  const row = (name: string, f: OfflineFigures | LiveFigures, cpuUs: number, other: string) =>
    `${name.padEnd(7)}  ${String(f.rules).padStart(5)}  ${String(f.events).padStart(7)}  ${n(f.eventsPerSecond).padStart(7)}  ${cpuUs.toFixed(1).padStart(9)}  ${other.padStart(9)}  ${String(f.alerts).padStart(6)}  ${String(f.occurrences).padStart(10)}`;
  lines.push(row('offline', r.offline.shipped, (r.offline.shipped.cpuMs * 1000) / r.offline.shipped.events, pct(r.offline.shipped.otherCpu)));
  lines.push(row('offline', r.offline.all, (r.offline.all.cpuMs * 1000) / r.offline.all.events, pct(r.offline.all.otherCpu)));
  lines.push(row('live', r.live.shipped, r.live.shipped.cpuUsPerEvent, '-'));
  lines.push(row('live', r.live.all, r.live.all.cpuUsPerEvent, '-'));
  lines.push('');
  lines.push(`  offline with every rule: ${n(r.offline.all.eventsPerSecond)} ev/s on one core (${pct(r.offline.ratio)} of the shipped rules' ${n(r.offline.shipped.eventsPerSecond)}); target >= ${n(OFFLINE_TARGET_EPS)}: ${r.targets.offline ? 'met' : 'NOT met'}`);
  lines.push(`  live with every rule: ${pct(r.live.ratio)} of the throughput with the shipped rules; target >= ${pct(LIVE_TARGET_RATIO)}: ${r.targets.live ? 'met' : 'NOT met'}`);
  return lines.join('\n');
}
