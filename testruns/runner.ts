import { randomUUID } from 'node:crypto';
import type { Cell, Check, RunAlert, RunHost, RunResult } from '../protocol/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { ResolvedRun, ResolvedSuite } from './suite-loader.ts';
import { ApiError, isOffline, type AssetsAnswer, type ControlPlaneApi } from './api-client.ts';
import { cloudOf, hostColumn, matchesSelector, osOf, type AgentInfo } from './host-selector.ts';
import { alertChecks, assetCheck, groupingCheck, incidentCheck, statusCheck, telemetryCheck, verdict } from './evaluate.ts';
import { silentProgress, type Progress } from './progress.ts';
import { wrongOsReason } from '../scenarios/index.ts';
import { canonicalProfile } from '../control-plane/products/sync-matrix.ts';

export interface RunOptions {
  api: ControlPlaneApi;
  clock?: Clock;
  /** Ids for the run and its detonations (injectable for deterministic tests). */
  newId?: () => string;
  progress?: Progress;
  /** Store the result in the control plane (default true). */
  save?: boolean;
  /** Waits between polls; injectable so tests never sleep on wall-clock time they do not need. */
  sleep?: (ms: number) => Promise<void>;
}

/** A planned cell: one scenario run on one host (or on no host, when its selector matched none). */
interface Planned {
  cell: Cell;
  run: ResolvedRun;
  agent?: AgentInfo;
  commandsOk: boolean;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs a suite against a control plane through its REST API: selects hosts among the registered
 * agents, plays each scenario run on each selected host with fresh detonation ids (hosts in
 * parallel, plays on one host in order), polls until the expected outcomes are there or the
 * settle time is over, makes the scripted status changes, and returns the matrix. Alerts belong to
 * a cell only through the detonation ids its events carried, never by time. A host that is not
 * connected yields "not run" cells, not failed detections.
 */
export async function runSuite(suite: ResolvedSuite, o: RunOptions): Promise<RunResult> {
  const clock = o.clock ?? systemClock;
  const newId = o.newId ?? randomUUID;
  const progress = o.progress ?? silentProgress;
  const sleep = o.sleep ?? realSleep;
  const { api } = o;
  const startedAt = clock.now();
  const runId = `run-${newId()}`;

  const [agents, syncProfile] = await Promise.all([api.agents(), api.syncProfile()]);
  const selected = new Map<string, AgentInfo[]>();
  for (const [name, sel] of Object.entries(suite.hosts)) selected.set(name, agents.filter((a) => matchesSelector(sel, a)));

  // Plan: one cell per run x host.
  const planned: Planned[] = [];
  for (const run of suite.scenarios) {
    const seen = new Set<string>();
    for (const selName of run.hosts) {
      const matched = selected.get(selName) ?? [];
      if (matched.length === 0) {
        planned.push({ run, commandsOk: false, cell: emptyCell(run, `${selName} (no host)`, null, planned.length) });
        continue;
      }
      for (const a of matched) {
        if (seen.has(a.agentId)) continue;
        seen.add(a.agentId);
        planned.push({ run, agent: a, commandsOk: false, cell: emptyCell(run, hostColumn(a), a, planned.length) });
      }
    }
  }
  // OS-true: a cell whose scenario is not written for the host's OS is not played ("not applicable").
  for (const p of planned) {
    const why = p.agent ? wrongOsReason(p.run.scenario, p.agent.facts) : undefined;
    if (why) finish(p.cell, [{ name: 'platform', status: 'not-applicable', reason: 'not applicable', detail: why }]);
  }
  const playable = planned.filter((p) => p.cell.checks.length === 0);
  progress.total(playable.reduce((n, p) => n + (p.agent?.connected ? p.run.rounds : 1), 0));

  // Rows that need their own sync profile run after the others, each group under its profile;
  // the control plane's profile is put back afterwards.
  const extra = new Map<Planned, Check[]>();
  const groups = new Map<string | null, Planned[]>([[null, []]]);
  for (const p of playable) {
    const want = p.run.sync && canonicalProfile(p.run.sync.profile) !== syncProfile ? canonicalProfile(p.run.sync.profile) : null;
    groups.set(want, [...(groups.get(want) ?? []), p]);
  }
  let restore: { profile: string; mdeStatusToMdc: boolean } | undefined;
  try {
    for (const [profile, group] of groups) {
      if (profile !== null) {
        try {
          if (!restore) {
            const info = await api.syncProfileInfo();
            restore = { profile: info.profile, mdeStatusToMdc: info.mdeStatusToMdc };
          }
          await api.setSyncProfile(profile);
        } catch (err) {
          for (const p of group) {
            notRun(p, `needs sync profile ${profile}, which the runner could not choose (PUT /api/sync/profile needs a contributor key): ${(err as Error).message}`);
            progress.tick(`${p.cell.rowId} × ${p.cell.host}: not run`);
          }
          continue;
        }
      }
      await playAndCheck(group, profile ?? syncProfile, extra);
    }
  } finally {
    if (restore) await api.setSyncProfile(restore.profile, { mdeStatusToMdc: restore.mdeStatusToMdc });
  }

  /** Plays a group of cells, polls for their outcomes, then makes their scripted status changes under `actual`. */
  async function playAndCheck(group: Planned[], actual: string | null, into: Map<Planned, Check[]>): Promise<void> {
    // Play: per host in order (the agent plays one at a time anyway), hosts in parallel.
    const byAgent = new Map<string, Planned[]>();
    for (const p of group) {
      if (!p.agent) {
        notRun(p, 'no connected or registered machine matches this host selector');
        progress.tick(`${p.cell.rowId} × ${p.cell.host}: not run`);
        continue;
      }
      if (!p.agent.connected) {
        notRun(p, `${p.agent.machine.name} is registered but not connected`);
        progress.tick(`${p.cell.rowId} × ${p.cell.host}: not run`);
        continue;
      }
      byAgent.set(p.agent.agentId, [...(byAgent.get(p.agent.agentId) ?? []), p]);
    }
    await Promise.all([...byAgent.values()].map(async (list) => {
      for (const p of list) await play(p, suite, api, newId, clock, progress);
    }));

    // Observe: poll until every cell's alert and telemetry checks hold, or the settle time is over.
    const deadline = clock.now() + suite.settings.settleMs;
    const played = group.filter((p) => p.commandsOk);
    for (;;) {
      for (const p of played) await observe(p, api);
      const open = played.filter((p) => baseChecks(p).some((c) => c.status !== 'pass'));
      if (open.length === 0 || clock.now() >= deadline) break;
      await sleep(suite.settings.pollIntervalMs);
    }

    // Scripted status changes, after the alerts exist; then incidents (status changes do not move alerts between incidents).
    for (const p of played) {
      const checks: Check[] = [];
      const written = p.run.sync?.profile ?? suite.sync?.profile;
      for (const change of p.run.expect.statusChanges ?? []) {
        const label = `sync ${change.action} in ${change.in}`;
        const alert = p.cell.alerts.find((a) => a.alertType === change.alertType);
        if (!alert) {
          checks.push({ name: label, status: 'fail', reason: 'alert missing', detail: `no ${change.alertType} alert to ${change.action}` });
        } else if (written && actual !== canonicalProfile(written)) {
          checks.push({ name: label, status: 'fail', reason: 'sync wrong', detail: `the control plane runs sync profile ${actual ?? 'unknown'}; the suite is written for ${written}` });
        } else {
          try {
            await api.changeStatus(alert.systemAlertId, change.action, change.in);
            const after = await api.alert(alert.systemAlertId);
            checks.push(statusCheck(label, change.expect, after.products));
            Object.assign(alert.products, after.products);
          } catch (err) {
            checks.push({ name: label, status: 'fail', reason: 'sync wrong', detail: (err as Error).message });
          }
        }
      }
      into.set(p, checks);
    }
  }
  const played = planned.filter((p) => p.commandsOk);

  const incidents = await api.incidents();
  const incidentOf = new Map<string, string>();
  for (const i of incidents) for (const a of i.alertIds) incidentOf.set(a, i.incidentId);
  let assets: AssetsAnswer | undefined;
  for (const p of played) {
    const checks = [...baseChecks(p), ...(extra.get(p) ?? [])];
    if (p.run.expect.incident) checks.push(incidentCheck(p.run.expect.incident, p.cell.alerts, incidentOf));
    if (p.run.expect.asset) {
      assets ??= await api.assets();
      checks.push(assetCheck(assets, p.agent!.machine.resourceId, p.run.expect.asset));
    }
    for (const a of p.cell.alerts) a.incidentId = incidentOf.get(a.systemAlertId) ?? a.incidentId;
    finish(p.cell, checks);
  }
  for (const p of planned.filter((x) => !x.commandsOk && x.cell.checks.length === 0)) finish(p.cell, [{ name: 'play', status: 'fail', reason: 'command failed', detail: 'not played' }]);

  // Incident checks across runs, per host that ran every member.
  const cells = planned.map((p) => p.cell);
  for (const check of suite.incidents) {
    const hosts = new Map<string, AgentInfo>();
    for (const sel of check.hosts) for (const a of selected.get(sel) ?? []) hosts.set(a.agentId, a);
    const columns: Array<{ column: string; agent: AgentInfo | null }> = hosts.size ? [...hosts.values()].map((a) => ({ column: hostColumn(a), agent: a })) : [{ column: `${check.hosts.join('+')} (no host)`, agent: null }];
    for (const { column, agent } of columns) {
      const cell: Cell = {
        cellId: `${check.id}@${column}`, rowId: `incident:${check.id}`, kind: 'incident', host: column, agentId: agent?.agentId ?? null,
        cloud: agent ? cloudOf(agent.facts) : null, status: 'pass', reasons: [], checks: [], detonationIds: [], events: { played: 0, stored: 0 },
        alerts: [], durationMs: 0, techniques: [],
      };
      const memberCells = check.alerts.map((m) => planned.find((p) => p.run.id === m.run && p.agent?.agentId === agent?.agentId));
      const inapplicable = memberCells.find((p) => p?.cell.status === 'not-applicable');
      if (inapplicable) {
        finish(cell, [{ name: 'incident grouping', status: 'not-applicable', reason: 'not applicable', detail: `${inapplicable.run.id}: ${inapplicable.cell.checks[0]?.detail ?? 'not for this host'}` }]);
      } else if (!agent || memberCells.some((p) => !p || !p.commandsOk)) {
        finish(cell, [{ name: 'incident grouping', status: 'not-run', reason: 'not run', detail: 'not every scenario run it names was played on this host' }]);
      } else {
        const members = check.alerts.map((m, i) => ({ label: `${m.run}/${m.alertType}`, alert: memberCells[i]!.cell.alerts.find((a) => a.alertType === m.alertType) }));
        cell.alerts = members.map((m) => m.alert).filter((a): a is RunAlert => !!a);
        cell.detonationIds = memberCells.flatMap((p) => p!.cell.detonationIds);
        finish(cell, [groupingCheck(check.expect, members, incidentOf)]);
      }
      cells.push(cell);
    }
  }
  progress.done();

  const hostsOut: RunHost[] = agents.filter((a) => [...selected.values()].some((l) => l.includes(a))).map((a) => ({
    column: hostColumn(a), agentId: a.agentId, name: a.machine.name, cloud: cloudOf(a.facts), os: osOf(a.facts), persona: a.facts.persona ?? null,
    connected: a.connected, selectors: [...selected.entries()].filter(([, l]) => l.includes(a)).map(([k]) => k),
  }));
  const attackCells = cells.filter((c) => c.kind === 'scenario' && c.variant === 'attack' && c.detonationIds.length > 0);
  const exercised = [...new Set(attackCells.flatMap((c) => c.techniques))].sort();
  const detected = [...new Set(attackCells.flatMap((c) => c.alerts.flatMap((a) => a.techniques)))].sort();
  const count = (s: Cell['status']) => cells.filter((c) => c.status === s).length;
  const finishedAt = clock.now();
  const result: RunResult = {
    runId,
    suite: { name: suite.name, ...(suite.description ? { description: suite.description } : {}), ...(suite.file ? { file: suite.file } : {}) },
    controlPlane: api.label,
    syncProfile,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: finishedAt - startedAt,
    // A cell whose scenario is not for the host's OS is no failure; a run with nothing but such cells proves nothing.
    ok: cells.some((c) => c.status === 'pass') && cells.every((c) => c.status === 'pass' || c.status === 'not-applicable'),
    summary: {
      cells: cells.length, pass: count('pass'), fail: count('fail'), notRun: count('not-run'), notChecked: count('not-checked'), notApplicable: count('not-applicable'),
    },
    hosts: hostsOut,
    rows: [
      ...suite.scenarios.map((r) => ({
        rowId: r.id, kind: 'scenario' as const, scenario: r.slug, variant: r.variant, ...(r.sync ? { syncProfile: canonicalProfile(r.sync.profile) } : {}),
      })),
      ...suite.incidents.map((c) => ({ rowId: `incident:${c.id}`, kind: 'incident' as const })),
    ],
    cells,
    coverage: { exercised, detected },
  };
  if (o.save !== false) await api.saveRun(result, suite);
  return result;
}

function emptyCell(run: ResolvedRun, host: string, agent: AgentInfo | null, index: number): Cell {
  return {
    cellId: `${run.id}@${host}#${index}`, rowId: run.id, kind: 'scenario', scenario: run.slug, variant: run.variant, host,
    agentId: agent?.agentId ?? null, cloud: agent ? cloudOf(agent.facts) : null, status: 'pass', reasons: [], checks: [],
    detonationIds: [], events: { played: 0, stored: 0 }, alerts: [], durationMs: 0,
    ...(run.faults ? { faults: run.faults } : {}), techniques: run.scenario.techniques,
  };
}

function notRun(p: Planned, detail: string): void {
  finish(p.cell, [{ name: 'play', status: 'not-run', reason: 'not run', detail }]);
}

function finish(cell: Cell, checks: Check[]): void {
  cell.checks = checks;
  Object.assign(cell, verdict(checks));
}

async function play(p: Planned, suite: ResolvedSuite, api: ControlPlaneApi, newId: () => string, clock: Clock, progress: Progress): Promise<void> {
  const started = clock.now();
  const { run, agent } = p;
  for (let round = 1; round <= run.rounds; round++) {
    const detonationId = `dt-${newId()}`;
    p.cell.detonationIds.push(detonationId);
    const label = `${run.id} × ${p.cell.host}${run.rounds > 1 ? ` (round ${round}/${run.rounds})` : ''}`;
    try {
      const r = await api.command(agent!.agentId, {
        action: 'run-scenario', scenario: run.scenario, variant: run.variant, detonationId, speed: run.speed, inputs: run.inputs,
        // A fresh seed per play keeps event ids distinct between rounds (same seed + same start = same ids).
        seed: run.seed !== undefined ? `${run.seed}:${round}` : detonationId,
        ...(run.faults ? { faults: run.faults } : {}),
      }, suite.settings.commandTimeoutMs);
      if (!r.ok) {
        finish(p.cell, [{ name: 'play', status: 'fail', reason: 'command failed', detail: `the agent refused the play: ${r.message ?? 'no message'}` }]);
        progress.tick(`${label}: command failed`);
        return;
      }
      p.cell.events.played += r.events ?? 0;
      for (const [table, n] of Object.entries(r.notCollected ?? {})) {
        p.cell.events.notCollected = { ...p.cell.events.notCollected, [table]: (p.cell.events.notCollected?.[table] ?? 0) + n };
      }
      progress.tick(label);
    } catch (err) {
      if (isOffline(err)) notRun(p, `${agent!.machine.name} disconnected: ${(err as Error).message}`);
      else finish(p.cell, [{ name: 'play', status: 'fail', reason: 'command failed', detail: err instanceof ApiError ? err.message : String(err) }]);
      progress.tick(`${label}: ${p.cell.status}`);
      return;
    }
  }
  p.commandsOk = true;
  p.cell.durationMs = clock.now() - started;
}

/** Reads what the control plane holds for the cell's detonations: stored events and linked alerts. */
async function observe(p: Planned, api: ControlPlaneApi): Promise<void> {
  const alerts = new Map<string, RunAlert>();
  let stored = 0;
  for (const d of p.cell.detonationIds) {
    stored += (await api.events(d)).length;
    for (const a of await api.alertsOf(d)) alerts.set(a.systemAlertId, a);
  }
  p.cell.events.stored = stored;
  p.cell.alerts = [...alerts.values()].sort((a, b) => a.alertType.localeCompare(b.alertType) || a.systemAlertId.localeCompare(b.systemAlertId));
}

function baseChecks(p: Planned): Check[] {
  return [telemetryCheck(p.cell.events.played, p.cell.events.stored, p.cell.events.notCollected), ...alertChecks(p.run.expect, p.cell.alerts)];
}
