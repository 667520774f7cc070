import { join } from 'node:path';
import { z } from 'zod';
import { ArcsimErrors, EventSchema, fileError, RunResultSchema, type Check, type RunAlert, type RunResult, type SensorEvent } from '../protocol/index.ts';
import { detectOffline } from '../control-plane/detection/offline-detect.ts';
import { loadRulesDir, type RuleSet } from '../control-plane/detection/index.ts';
import type { AlertRow } from '../control-plane/store/index.ts';
import { BUNDLE_FORMAT, BUNDLE_VERSION } from '../control-plane/api/run-routes.ts';
import type { ResolvedSuite } from './suite-loader.ts';
import { alertChecks, telemetryCheck, verdict } from './evaluate.ts';
import { controlPlaneApi } from './api-client.ts';

/** An exported run: what was asked (suite), what happened (result), and the evidence (events, alerts). */
export const BundleSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  exportedAt: z.string(),
  suite: z.record(z.string(), z.unknown()),
  result: RunResultSchema,
  events: z.array(EventSchema),
  alerts: z.array(z.record(z.string(), z.unknown())),
});
export type Bundle = z.infer<typeof BundleSchema>;

/** Validates a parsed bundle file; a bad one is refused with the first problem's path. */
export function parseBundle(raw: unknown, file = 'bundle'): Bundle {
  const r = BundleSchema.safeParse(raw);
  if (!r.success) throw new ArcsimErrors(r.error.issues.slice(0, 5).map((i) => fileError('ARCSIM_E_SUITE_SCHEMA', file, i.path.map(String).join('.'), `not an arcsim run bundle: ${i.message}`)));
  return r.data;
}

export interface ReplayedCell {
  cellId: string;
  rowId: string;
  host: string;
  before: { status: string; reasons: string[]; checks: Check[] };
  after: { status: string; reasons: string[]; checks: Check[] };
  changed: boolean;
  /** Alert types raised before and after, for the diff. */
  alertsBefore: string[];
  alertsAfter: string[];
}

/**
 * Replays a bundle's events through the detection rules offline (the same streaming engine and
 * dedup as the control plane, on a throwaway store; `rulesDir` = the rule set under test) and
 * re-checks what can be re-checked from events alone: telemetry, expected alerts, counts after
 * dedup, extra alerts. Incidents, product sync, latency and inventory need a live control plane
 * and are left out of the comparison. Each cell is replayed on its own, so cells cannot mask each other.
 */
export interface LiveTarget {
  /** Base URL of the control plane to replay against. */
  url: string;
  /** Enrollment token of that control plane: one replay agent is enrolled per host of the bundle. */
  token: string;
  /** An API key of that control plane (a reader key is enough) to read the alerts the replay raised. */
  apiKey: string;
  /** Where the replay agents keep their identity and spool. */
  stateDir: string;
  /** How long to wait for a cell's alerts to appear after its events are acked, ms. */
  settleMs?: number;
}

/**
 * Replays a bundle. Offline (default): each cell's events go through the rules in `rulesDir` on a
 * throwaway store. Live (`target`): each cell's events are sent through the real agent path to
 * another control plane (a replay agent per host: new ids, a new DetonationId, timestamps moved to
 * now with their spacing kept) and that control plane's alerts for the new detonation are checked.
 */
export async function replayBundle(bundle: Bundle, options: { rulesDir?: string; rules?: RuleSet; target?: LiveTarget } = {}): Promise<ReplayedCell[]> {
  return options.target ? replayLive(bundle, options.target) : replayOffline(bundle, options);
}

async function replayOffline(bundle: Bundle, options: { rulesDir?: string; rules?: RuleSet }): Promise<ReplayedCell[]> {
  // The rules are compiled once for the whole bundle, not per cell.
  const rules = options.rules ?? loadRulesDir(options.rulesDir);
  return compareCells(bundle, async (_cell, events) => (await detectOffline(events, { rules })).map(offlineAlert));
}

async function replayLive(bundle: Bundle, target: LiveTarget): Promise<ReplayedCell[]> {
  const { Agent } = await import('../agent/agent.ts');
  const { replayThroughAgent } = await import('../agent/replay.ts');
  const agents = new Map<string, InstanceType<typeof Agent>>();
  const api = controlPlaneApi(target.url, target.apiKey);
  try {
    return await compareCells(bundle, async (cell, events) => {
      let agent = agents.get(cell.host);
      if (!agent) {
        const host = cell.host.replace(/[^A-Za-z0-9._-]/g, '-');
        const facts = { hostname: host, agentVersion: 'replay', detectedProperties: {}, cloudMetadata: { provider: 'N/A' } };
        // A replaying agent sends the recorded events only (no DeviceInfo / DeviceNetworkInfo rows of its own).
        agent = new Agent({ controlPlane: target.url, token: target.token, stateDir: join(target.stateDir, host), facts: async () => ({ machine: facts, sqlInstances: [] }), deviceState: false });
        const registered = agent.waitRegistered();
        await agent.start();
        await registered;
        agents.set(cell.host, agent);
      }
      const sent = await replayThroughAgent(agent, events, { hostName: cell.host.replace(/[^A-Za-z0-9._-]/g, '-') });
      // Alerts are committed before the acks that replayThroughAgent waited for; poll briefly for safety.
      const deadline = Date.now() + (target.settleMs ?? 2000);
      let value: RunAlert[] = [];
      do {
        value = await api.alertsOf(sent.detonationId);
        if (value.length > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() < deadline);
      // Latency and product views are the other control plane's; only types and counts are compared.
      return value.map((a) => ({ ...a, latencyMs: null, products: {}, incidentId: null, detonationIds: [sent.detonationId] }));
    });
  } finally {
    for (const a of agents.values()) await a.stop();
  }
}

/** Re-checks each scenario cell against the alerts `detect` finds for its events. */
async function compareCells(
  bundle: Bundle, detect: (cell: RunResult['cells'][number], events: SensorEvent[]) => Promise<RunAlert[]>,
): Promise<ReplayedCell[]> {
  const suite = bundle.suite as unknown as ResolvedSuite;
  const result: RunResult = bundle.result;
  const byDetonation = new Map<string, SensorEvent[]>();
  for (const e of bundle.events) if (e.DetonationId) byDetonation.set(e.DetonationId, [...(byDetonation.get(e.DetonationId) ?? []), e]);
  const out: ReplayedCell[] = [];
  for (const cell of result.cells) {
    if (cell.kind !== 'scenario' || cell.detonationIds.length === 0 || cell.status === 'not-run') continue;
    const run = suite.scenarios.find((r) => r.id === cell.rowId);
    if (!run) continue;
    const expect = { ...run.expect, alerts: run.expect.alerts.map((a) => ({ ...a, maxLatency: undefined, products: undefined })) };
    const events = cell.detonationIds.flatMap((d) => byDetonation.get(d) ?? []);
    const alerts = await detect(cell, events);
    const replayable = (c: Check) => c.name === 'telemetry' || c.name.startsWith('alert ') || c.name === 'no other alert';
    const beforeChecks = cell.checks.filter(replayable);
    const afterChecks = [telemetryCheck(cell.events.played, events.length, cell.events.notCollected), ...alertChecks(expect, alerts)];
    const before = { ...verdict(beforeChecks), checks: beforeChecks };
    const after = { ...verdict(afterChecks), checks: afterChecks };
    const sig = (cs: Check[]) => JSON.stringify(cs.map((c) => [c.name, c.status, c.reason ?? null]).sort());
    out.push({
      cellId: cell.cellId, rowId: cell.rowId, host: cell.host, before, after, changed: sig(beforeChecks) !== sig(afterChecks),
      alertsBefore: cell.alerts.map((a) => a.alertType).sort(), alertsAfter: alerts.map((a) => a.alertType).sort(),
    });
  }
  return out;
}

function offlineAlert(a: AlertRow): RunAlert {
  const p = a.properties as Record<string, any>;
  return {
    systemAlertId: a.systemAlertId, alertType: a.alertType, displayName: String(p.alertDisplayName ?? ''), count: a.count, latencyMs: null,
    products: {}, incidentId: null, techniques: [...(p.techniques ?? []), ...(p.subTechniques ?? [])].sort(), detonationIds: [],
  };
}

/** Human-readable diff of a replay: one line per cell, changed cells with before/after detail. */
export function renderReplay(cells: ReplayedCell[]): string {
  const lines: string[] = [];
  for (const c of cells) {
    const head = `${c.rowId} × ${c.host}: ${c.before.status.toUpperCase()} -> ${c.after.status.toUpperCase()}`;
    if (!c.changed) {
      lines.push(`  same     ${head}`);
      continue;
    }
    lines.push(`  CHANGED  ${head}${c.after.reasons.length ? ` (${c.after.reasons.join(', ')})` : ''}`);
    lines.push(`           alerts before: ${c.alertsBefore.join(', ') || 'none'}; after: ${c.alertsAfter.join(', ') || 'none'}`);
    for (const k of c.after.checks.filter((x) => x.status !== 'pass')) lines.push(`           ${k.name}: ${k.detail}`);
  }
  const changed = cells.filter((c) => c.changed).length;
  lines.push('', `${changed} of ${cells.length} replayed cells changed; ${cells.filter((c) => c.after.status === 'pass').length} pass with these rules.`);
  return lines.join('\n') + '\n';
}
