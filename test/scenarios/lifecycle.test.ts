import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadScenarioFile, planRun } from '../../scenarios/index.ts';
import { releasePlan, uuidV7WithTime } from '../../scenarios/playback.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { startAgentLab } from '../helpers.ts';

const lifecycle = loadScenarioFile(join(import.meta.dirname, '..', 'fixtures', 'scenarios-ok', 'lifecycle.yaml'));
const device = { id: 'agent-1', name: 'h1' };
const start = Date.UTC(2026, 2, 4, 10, 0, 0);

test('phases play in order: warmup, detonate, cleanup after the detonation ends', () => {
  const plan = planRun(lifecycle, { detonationId: 'd', device, startTime: start });
  assert.deepEqual(plan.events.map((p) => p.phase), ['warmup', ...Array(5).fill('detonate'), 'cleanup']);
  assert.equal(plan.failure, undefined);
  // 5 beacons 2 s apart end at 8 s; cleanup follows 1 s later.
  assert.equal(plan.cleanupStartMs, 8000);
  assert.equal(plan.events.at(-1)!.offsetMs, 9000);
  assert.equal(plan.events.at(-1)!.event.ActionType, 'FileDeleted');
});

test('a detonation that fails at play time (overridden input) stops there, and cleanup still plays', () => {
  const plan = planRun(lifecycle, { detonationId: 'd', device, startTime: start, inputs: { port: 70000 } });
  assert.equal(plan.failure?.code, 'ARCSIM_E_SCENARIO_COLUMN');
  assert.equal(plan.failure?.path, 'detonate.0.events.0.RemotePort');
  assert.deepEqual(plan.events.map((p) => p.phase), ['warmup', 'cleanup']);
  // A mistyped input is refused before anything plays (there is nothing to clean up).
  assert.throws(() => planRun(lifecycle, { detonationId: 'd', device, startTime: start, inputs: { interval: 'soon' } }), (e: any) => e.code === 'ARCSIM_E_SCENARIO_ARGUMENT_TYPE');
  // An impossible timing from an override fails the step; cleanup still plays.
  const t = planRun(lifecycle, { detonationId: 'd', device, startTime: start, inputs: { interval: '0s' } });
  assert.equal(t.failure?.code, 'ARCSIM_E_SCENARIO_TIMING');
  assert.deepEqual(t.events.map((p) => p.phase), ['warmup', 'cleanup']);
});

test('a cancelled release stops the detonation and plays cleanup right after, re-stamped', async () => {
  const plan = planRun(lifecycle, { detonationId: 'd', device, startTime: start, inputs: { beacons: 100, interval: '1m' } });
  const got: SensorEvent[] = [];
  const controller = new AbortController();
  let wall = 0;
  const r = await releasePlan(plan, {
    speed: 60, // one event-time minute per wall second
    signal: controller.signal,
    sink: (events) => { got.push(...events); if (got.length === 4) controller.abort(); },
    now: () => wall,
    sleep: async (ms, signal) => { if (!signal?.aborted) wall += ms; },
  });
  assert.equal(r.cancelled, true);
  assert.deepEqual(r.byPhase, { warmup: 1, detonate: 3, cleanup: 1 });
  const last = got.at(-1)!;
  assert.equal(last.ActionType, 'FileDeleted');
  // Cleanup follows the last beacon (offset 2 min) by its own 1 s, not the planned 99 min.
  assert.equal(Date.parse(last.Timestamp), start + 2 * 60_000 + 1000);
  assert.equal(last.ReportId.slice(0, 13).replace('-', ''), (start + 2 * 60_000 + 1000).toString(16).padStart(12, '0'));
  assert.equal(uuidV7WithTime(last.ReportId, 0).slice(14), last.ReportId.slice(14));
});

test('through the agent: a failed detonation reports its code, and the cleanup events are delivered', async (t) => {
  const lab = await startAgentLab();
  t.after(() => lab.close());
  const { detonationId, result } = await lab.play(lifecycle, { inputs: { port: 70000 } });
  assert.equal(result.ok, false);
  assert.match(result.message!, /detonate failed: ARCSIM_E_SCENARIO_COLUMN/);
  assert.match(result.message!, /cleanup played 1/);
  const events = await lab.env.store.events.listEvents({ detonationId });
  assert.deepEqual(events.map((e) => e.ActionType).sort(), ['FileCreated', 'FileDeleted']);
});

test('through the agent: cancel-scenario stops a slow run; cleanup is delivered; runs do not overlap', async (t) => {
  const lab = await startAgentLab();
  t.after(() => lab.close());
  // 100 beacons a minute apart at speed 600: 10 s of wall time unless cancelled.
  const slow = lab.play(lifecycle, { inputs: { beacons: 100, interval: '1m' }, speed: 600, detonationId: 'slow-run' });
  const queued = lab.play(lifecycle, { detonationId: 'queued-run' });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(lab.agent.runner.active(), ['slow-run'], 'the second run waits for the first');
  const cancel = await lab.env.cp.command(lab.agent.agentId!, { action: 'cancel-scenario', detonationId: 'slow-run' });
  assert.equal(cancel.ok, true);
  const { result } = await slow;
  assert.equal(result.ok, false);
  assert.match(result.message!, /^cancelled; \d+ events played before, cleanup played 1$/);
  const events = await lab.env.store.events.listEvents({ detonationId: 'slow-run' });
  assert.ok(events.length < 10, `${events.length} events: stopped early`);
  assert.equal(events.filter((e) => e.ActionType === 'FileDeleted').length, 1);
  assert.equal((await queued).result.ok, true);
  assert.equal((await lab.env.cp.command(lab.agent.agentId!, { action: 'cancel-scenario', detonationId: 'nope' })).ok, false);
});
