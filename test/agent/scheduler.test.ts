import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLibrary } from '../../scenarios/index.ts';
import type { ReleaseResult } from '../../scenarios/playback.ts';
import { loadScheduleFile } from '../../agent/schedule-file.ts';
import { loadScheduling, ScenarioRunner, type RunRequest, type ScheduleJobFn } from '../../agent/scheduler.ts';
import { Agent } from '../../agent/index.ts';
import { cleanup, enableExtensions, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';

const ssh = loadLibrary().get('ssh-brute-force-failed')!;
const done: ReleaseResult = { released: 1, byPhase: { warmup: 0, detonate: 1, cleanup: 0 }, cancelled: false, failure: undefined };

/** A play function whose runs finish when the test says so. */
function controlledPlay() {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const play = (req: RunRequest) => new Promise<ReleaseResult>((resolve) => {
    started.push(req.detonationId);
    finish.set(req.detonationId, () => resolve(done));
  });
  return { started, finish: (id: string) => finish.get(id)!(), play };
}

const req = (detonationId: string, extra: Partial<RunRequest> = {}): RunRequest => ({ scenario: ssh, variant: 'attack', detonationId, source: 'test', ...extra });
const tick = () => new Promise((r) => setImmediate(r));

test('runs never overlap on a host: commands wait their turn, a busy cron run is skipped, allowOverlap runs at once', async () => {
  const p = controlledPlay();
  const fired: Array<() => void> = [];
  const scheduleJob: ScheduleJobFn = (_cron, fire) => { fired.push(fire); return { cancel() {} }; };
  let n = 0;
  const runner = new ScenarioRunner({ play: p.play, scheduleJob, newId: () => `cron-${++n}`, resolveScenario: () => ssh });
  runner.schedule([{ name: 'nightly', cron: '0 2 * * *', scenario: 'ssh-brute-force-failed', variant: 'attack', speed: 0, allowOverlap: false }]);

  const a = runner.run(req('a'));
  const b = runner.run(req('b'));
  await tick();
  assert.deepEqual(p.started, ['a'], 'b waits for a');
  fired[0]!(); // the cron job falls due while a plays
  await tick();
  assert.deepEqual(p.started, ['a'], 'the scheduled run is skipped, not queued');
  const c = runner.run(req('c', { allowOverlap: true }));
  await tick();
  assert.deepEqual(p.started, ['a', 'c'], 'an overlapping run starts at once');
  p.finish('a');
  await a;
  await tick();
  assert.deepEqual(p.started, ['a', 'c'], 'b also waits for the overlapping run');
  p.finish('c');
  await c;
  await tick(); await tick();
  assert.deepEqual(p.started, ['a', 'c', 'b']);
  p.finish('b');
  await b;
  assert.equal(runner.busy(), false);
  fired[0]!(); // now the host is free
  await tick(); await tick();
  assert.deepEqual(p.started, ['a', 'c', 'b', 'cron-2']);
  p.finish('cron-2');
  runner.stop();
});

test('schedules are checked at start-up: cron syntax (node-schedule) and the scenario reference', async () => {
  await loadScheduling(); // what Agent.start does before scheduling
  const runner = new ScenarioRunner({ play: async () => done });
  assert.throws(() => runner.schedule([{ name: 'x', cron: 'every night', scenario: 'ssh-brute-force-failed', variant: 'attack', speed: 0, allowOverlap: false }]), /schedules\.0\.cron \(x\): "every night" is not a valid cron expression/);
  assert.throws(() => runner.schedule([{ name: 'y', cron: '0 2 * * *', scenario: 'no-such-scenario', variant: 'attack', speed: 0, allowOverlap: false }]), /schedules\.0 \(y\): scenario "no-such-scenario"/);
  const dir = tempDir();
  const file = join(dir, 'schedule.yaml');
  writeFileSync(file, 'schedules:\n  - name: nightly\n    cron: "30 2 * * *"\n    scenario: ssh-brute-force-failed\n    speed: 600\n    every: 1d\n');
  assert.throws(() => loadScheduleFile(file), /schedule\.yaml at schedules\.0: Unrecognized key: "every"/);
  writeFileSync(file, 'schedules:\n  - name: nightly\n    cron: "30 2 * * *"\n    scenario: ssh-brute-force-failed\n');
  assert.deepEqual(loadScheduleFile(file)[0], { name: 'nightly', cron: '30 2 * * *', scenario: 'ssh-brute-force-failed', variant: 'attack', speed: 0, allowOverlap: false });
  cleanup(dir);
});

test('an agent with a schedule plays the scenario when its cron job fires, with its own detonation id', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const fired: Array<() => void> = [];
  const agent = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }),
    schedules: [{ name: 'hourly-ssh', cron: '0 * * * *', scenario: 'ssh-brute-force-failed', variant: 'attack', speed: 0, allowOverlap: false }],
    scheduleJob: (_cron, fire) => { fired.push(fire); return { cancel() {} }; },
  });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  await enableExtensions(env.cp, agent.agentId!);
  assert.equal(fired.length, 1);
  fired[0]!();
  await new Promise((r) => setTimeout(r, 20));
  while (agent.runner.busy()) await new Promise((r) => setTimeout(r, 10));
  await agent.drained();
  const alerts = await env.store.alerts.listAlerts();
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.alertType, 'VM_SshBruteForceFailed');
  // The scenario's 10 events; besides them only the agent's state rows (DeviceInfo) are stored.
  const stored = await env.store.events.listEvents({});
  assert.equal(stored.filter((e) => e.Table !== 'DeviceInfo' && e.Table !== 'DeviceNetworkInfo').length, 10);
});
