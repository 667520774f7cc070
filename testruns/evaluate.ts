import { CELL_REASONS, type CellReason, type CellStatus, type Check, type RunAlert } from '../protocol/index.ts';
import { parseDuration } from '../lib/duration.ts';
import type { Expect } from './suite-schema.ts';
import type { AssetsAnswer } from './api-client.ts';

/**
 * Pure verdicts: observations in, checks out. Each check names what it looked at and, when it
 * does not hold, one of the matrix reasons (CELL_REASONS) and a detail a person can act on.
 */
const pass = (name: string, detail: string): Check => ({ name, status: 'pass', detail });
const fail = (name: string, reason: CellReason, detail: string): Check => ({ name, status: 'fail', reason, detail });

/**
 * Every played event must be stored once: fewer is lost telemetry, more would be a redelivery
 * stored twice. Events the scenario produced but no installed sensor collected (the host has no
 * MDE extension, or no SQL extension for SqlEvents) are telemetry missing too: without them a
 * benign twin "raises nothing" only because nothing was looked at.
 */
export function telemetryCheck(played: number, stored: number, notCollected: Partial<Record<string, number>> = {}): Check {
  const uncollected = Object.entries(notCollected).filter(([, n]) => (n ?? 0) > 0);
  if (uncollected.length) {
    const total = uncollected.reduce((n, [, c]) => n + c!, 0);
    return fail('telemetry', 'telemetry missing',
      `${total} event(s) not collected by any sensor on the host (${uncollected.map(([t, c]) => `${t} ${c}`).join(', ')}): ` +
      'no MDE extension (Defender for Servers) or, for SqlEvents, no SQL extension (Defender for SQL)');
  }
  if (stored === played) return pass('telemetry', `${stored}/${played} events stored`);
  if (stored < played) return fail('telemetry', 'telemetry missing', `${stored} of ${played} played events stored`);
  return fail('telemetry', 'wrong count after dedup', `${stored} events stored for ${played} played (redelivery stored twice)`);
}

/** Expected alerts (count after dedup, occurrences, latency, product visibility) and no other alert. */
export function alertChecks(expect: Expect, alerts: RunAlert[]): Check[] {
  const checks: Check[] = [];
  for (const exp of expect.alerts) {
    const name = `alert ${exp.alertType}`;
    const found = alerts.filter((a) => a.alertType === exp.alertType);
    if (found.length === 0 && exp.count > 0) {
      checks.push(fail(name, 'alert missing', `no ${exp.alertType} alert linked to the run's detonations (expected ${exp.count})`));
      continue;
    }
    if (found.length !== exp.count) {
      checks.push(fail(name, exp.count === 0 ? 'extra alert' : 'wrong count after dedup', `${found.length} ${exp.alertType} alerts after dedup, expected ${exp.count}`));
      continue;
    }
    const occurrences = found.reduce((n, a) => n + a.count, 0);
    if (exp.occurrences !== undefined && occurrences !== exp.occurrences) {
      checks.push(fail(name, 'wrong count after dedup', `${occurrences} occurrences folded into ${found.length} alert(s), expected ${exp.occurrences}`));
      continue;
    }
    checks.push(pass(name, `${found.length} alert(s), ${occurrences} occurrence(s)`));
    if (exp.maxLatency !== undefined) {
      const max = parseDuration(exp.maxLatency);
      const slow = found.filter((a) => a.latencyMs === null || a.latencyMs > max);
      checks.push(slow.length
        ? fail(`latency ${exp.alertType}`, 'too slow', slow.map((a) => (a.latencyMs === null ? 'no latency recorded' : `${a.latencyMs} ms`)).join(', ') + ` > ${exp.maxLatency}`)
        : pass(`latency ${exp.alertType}`, found.map((a) => `${a.latencyMs} ms`).join(', ') + ` <= ${exp.maxLatency}`));
    }
    if (exp.products) {
      const want = [...exp.products].sort();
      const bad = found.filter((a) => JSON.stringify(Object.keys(a.products).sort()) !== JSON.stringify(want));
      checks.push(bad.length
        ? fail(`visibility ${exp.alertType}`, 'sync wrong', `shown in ${Object.keys(bad[0]!.products).sort().join(', ') || 'nothing'}, expected ${want.join(', ')}`)
        : pass(`visibility ${exp.alertType}`, `shown in ${want.join(', ')}`));
    }
  }
  if (expect.noOtherAlerts) {
    const extra = alerts.filter((a) => !expect.alerts.some((e) => e.alertType === a.alertType));
    checks.push(extra.length
      ? fail('no other alert', 'extra alert', `unexpected: ${extra.map((a) => `${a.alertType} (${a.displayName})`).join(', ')}`)
      : pass('no other alert', 'none'));
  }
  return checks;
}

/** `one`: the run's alerts that are in incidents share exactly one; `none`: no alert is in an incident. */
export function incidentCheck(mode: 'one' | 'none', alerts: RunAlert[], incidentOf: Map<string, string>): Check {
  const ids = new Set(alerts.map((a) => incidentOf.get(a.systemAlertId)).filter((i): i is string => !!i));
  if (mode === 'none') {
    return ids.size === 0 ? pass('incident', 'no alert is in an incident') : fail('incident', 'wrong incident grouping', `alerts are in incident(s) ${[...ids].join(', ')}`);
  }
  const outside = alerts.filter((a) => !incidentOf.get(a.systemAlertId));
  if (ids.size === 1 && outside.length === 0) return pass('incident', `one incident ${[...ids][0]}`);
  return fail('incident', 'wrong incident grouping',
    ids.size === 0 ? 'no alert is in an incident' : `${ids.size} incidents${outside.length ? `, ${outside.length} alert(s) in none` : ''}`);
}

/** Alerts named by an incident check: `same` = one incident for all, `separate` = all different. */
export function groupingCheck(mode: 'same' | 'separate', members: Array<{ label: string; alert?: RunAlert }>, incidentOf: Map<string, string>): Check {
  const missing = members.filter((m) => !m.alert);
  if (missing.length) return fail('incident grouping', 'alert missing', `no alert for ${missing.map((m) => m.label).join(', ')}`);
  const ids = members.map((m) => incidentOf.get(m.alert!.systemAlertId) ?? null);
  const described = members.map((m, i) => `${m.label} -> ${ids[i] ?? 'no incident'}`).join('; ');
  // `separate`: no two alerts share an incident (an alert in none is apart from every other).
  const grouped = ids.filter((i): i is string => i !== null);
  const ok = mode === 'same' ? ids.every((i) => i !== null && i === ids[0]) : new Set(grouped).size === grouped.length;
  return ok ? pass('incident grouping', described) : fail('incident grouping', 'wrong incident grouping', `expected ${mode === 'same' ? 'one incident' : 'separate incidents'}: ${described}`);
}

/** Product statuses after a scripted status change. */
export function statusCheck(label: string, expected: Partial<Record<string, string>>, actual: Record<string, string>): Check {
  const wrong = Object.entries(expected).filter(([p, s]) => actual[p] !== s);
  const shown = Object.entries(actual).map(([p, s]) => `${p}=${s}`).join(', ');
  return wrong.length
    ? fail(label, 'sync wrong', `${wrong.map(([p, s]) => `${p} is ${actual[p] ?? 'not shown'}, expected ${s}`).join('; ')} (${shown})`)
    : pass(label, shown);
}

/**
 * Inventory merge: the assets (`GET /api/assets`, docs/inventory.md) that have this machine's Arc
 * resource id among their `sources`, and how many source records each has. The detail names the
 * sources (kind and name), the merge confidence and any conflict, so a failure says what merged
 * with what.
 */
export function assetCheck(answer: AssetsAnswer, resourceId: string, expected: { count: number; sources: number }): Check {
  if (!answer.available) return { name: 'asset merge', status: 'not-checked', reason: 'not checked: inventory API missing', detail: 'GET /api/assets answered 404' };
  const id = resourceId.toLowerCase();
  const sourcesOf = (a: Record<string, any>): Array<Record<string, any>> => (Array.isArray(a.sources) ? a.sources : []);
  const mine = answer.value.filter((a) => sourcesOf(a).some((s) => s.kind === 'arc' && String(s.resourceId ?? '').toLowerCase() === id));
  const counts = mine.map((a) => sourcesOf(a).length);
  const ok = mine.length === expected.count && counts.every((n) => n === expected.sources);
  const described = mine.map((a: Record<string, any>) =>
    `${a.name ?? a.id} [${a.confidence ?? '?'}] ${sourcesOf(a).map((s) => `${s.kind}:${s.name ?? s.resourceId}`).join(' + ')}` +
    (Array.isArray(a.conflicts) && a.conflicts.length ? ` (conflicts: ${a.conflicts.map((c: any) => c.kind).join(', ')})` : ''));
  const detail = `${mine.length} asset(s) with ${counts.join('/') || 0} source(s); expected ${expected.count} with ${expected.sources}` +
    (described.length ? `: ${described.join('; ')}` : '');
  return ok ? pass('asset merge', detail) : fail('asset merge', 'asset merge wrong', detail);
}

/** A cell fails if any check fails; otherwise it is not-checked if any check could not be made. */
export function verdict(checks: Check[]): { status: CellStatus; reasons: CellReason[] } {
  const reasons = [...new Set(checks.filter((c) => c.status !== 'pass' && c.reason).map((c) => c.reason!))]
    .sort((a, b) => CELL_REASONS.indexOf(a) - CELL_REASONS.indexOf(b));
  const status: CellStatus = checks.some((c) => c.status === 'fail') ? 'fail'
    : checks.some((c) => c.status === 'not-run') ? 'not-run'
    : checks.some((c) => c.status === 'not-checked') ? 'not-checked'
    : checks.some((c) => c.status === 'not-applicable') ? 'not-applicable' : 'pass';
  return { status, reasons };
}
