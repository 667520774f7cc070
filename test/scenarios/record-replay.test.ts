import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { buildProgram } from '../../cli/main.ts';
import { replayThroughAgent } from '../../agent/replay.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { parseRecording, rewriteRecording, toNdjson } from '../../scenarios/recording.ts';
import { cleanup, startAgentLab, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const library = loadLibrary();
const ssh = library.get('ssh-brute-force-failed')!;

test('arcsim scenario play --out: the same seed writes byte-identical files, another seed differs', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  // One real process, the other plays in-process through the same command (saves a tsx start-up per play).
  const spawned = spawnSync(process.execPath, [BIN, 'scenario', 'play', 'ssh-brute-force-success', '--seed', '42', '--out', join(dir, 'a.ndjson')], { encoding: 'utf8' });
  assert.equal(spawned.status, 0, spawned.stderr);
  assert.match(spawned.stdout, /^wrote 33 events \(warmup 0, detonate 32, cleanup 1\) spanning 1m35s of event time/);
  const play = async (seed: string, out: string) => {
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof write;
    try {
      await buildProgram().parseAsync(['node', 'arcsim', 'scenario', 'play', 'ssh-brute-force-success', '--seed', seed, '--out', join(dir, out)]);
    } finally {
      process.stdout.write = write;
    }
    return readFileSync(join(dir, out));
  };
  const a = readFileSync(join(dir, 'a.ndjson'));
  const b = await play('42', 'b.ndjson');
  const c = await play('43', 'c.ndjson');
  assert.ok(a.equals(b), 'same seed, same bytes');
  assert.ok(!a.equals(c), 'another seed, other bytes');
  const events = parseRecording(a.toString());
  assert.equal(events.length, 33);
  assert.equal(events[0]!.Timestamp.slice(0, 10), '2026-01-01', 'the default --start is fixed');
  assert.equal(new Set(events.map((e) => e.DetonationId)).size, 1);
});

test('a recording replays through the real agent path with host, ids, addresses and time rewritten', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const recorded = planEvents(ssh, { detonationId: 'recorded-run', device: { id: 'recording', name: 'old-host' }, startTime: Date.UTC(2026, 0, 1), seed: 3 }).map((p) => p.event);
  const parsed = parseRecording(toNdjson(recorded), 'ssh.ndjson');
  assert.deepEqual(parsed, recorded);

  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'replay'), facts: async () => ({ machine: { ...TEST_FACTS, hostname: 'replay-host' }, sqlInstances: [] }) });
  t.after(() => agent.stop());
  const reg = agent.waitRegistered();
  await agent.start();
  assert.match((await reg).machineId, /machines\/replay-host$/);
  const now = Date.UTC(2026, 5, 1, 12, 0, 0);
  const r = await replayThroughAgent(agent, parsed, { hostName: 'replay-host', ipMap: { '203.0.113.45': '192.0.2.200' }, now: () => now });
  const stored = await env.store.events.listEvents({ detonationId: r.detonationId });
  assert.equal(stored.length, 10);
  assert.notEqual(r.detonationId, 'recorded-run');
  for (const [i, e] of stored.entries()) {
    assert.equal(e.DeviceId, agent.agentId);
    assert.equal(e.DeviceName, 'replay-host');
    assert.equal((e as any).RemoteIP, '192.0.2.200');
    assert.ok(!recorded.some((old) => old.ReportId === e.ReportId), 'new ReportIds');
    // Spacing kept, stream moved to end now.
    assert.equal(Date.parse(e.Timestamp) - Date.parse(stored[0]!.Timestamp), Date.parse(recorded[i]!.Timestamp) - Date.parse(recorded[0]!.Timestamp));
  }
  assert.equal(Date.parse(stored.at(-1)!.Timestamp), now);
  const alerts = await env.store.alerts.listAlerts({ detonationId: r.detonationId });
  assert.equal(alerts.length, 1);
  assert.ok((alerts[0]!.properties.entities as any[]).some((x) => x.type === 'ip' && x.address === '192.0.2.200'));
  // Replaying the same recording again is a new run, not a redelivery.
  const again = await replayThroughAgent(agent, parsed, { hostName: 'replay-host', now: () => now + 3_600_000 });
  assert.equal(await env.store.events.countEvents({ detonationId: again.detonationId }), 10);
});

test('address rewriting does not touch longer addresses that merely start the same', () => {
  const [e] = rewriteRecording([{ Table: 'DeviceProcessEvents', Timestamp: '2026-01-01T00:00:00.000Z', DeviceId: 'd', DeviceName: 'h', ActionType: 'ProcessCreated', ReportId: '01940000-0000-7000-8000-000000000000', ProcessCommandLine: 'curl http://10.0.0.1/x http://10.0.0.12/y' }],
    { device: { id: 'a', name: 'b' }, detonationId: 'x', ipMap: { '10.0.0.1': '192.0.2.1' } });
  assert.equal((e as any).ProcessCommandLine, 'curl http://192.0.2.1/x http://10.0.0.12/y');
});

test('time-warp: a three-hour slow brute force plays in about a second, keeps its spacing, and its count rule fires', async (t) => {
  const lab = await startAgentLab();
  t.after(() => lab.close());
  const started = Date.now();
  // 200 guesses 55 s apart (about 3 h 3 min of event time) at 10 000x.
  const { detonationId, result } = await lab.play(ssh, { inputs: { attempts: 200, interval: '55s' }, speed: 10_000, seed: 5 });
  const wall = Date.now() - started;
  assert.ok(result.ok, result.message);
  assert.ok(wall < 5000, `played in ${wall} ms`);
  assert.ok(wall >= 1000, `paced by the warp, not dumped at once (${wall} ms)`);
  const events = await lab.env.store.events.listEvents({ detonationId });
  assert.equal(events.length, 200);
  const times = events.map((e) => Date.parse(e.Timestamp)).sort((a, b) => a - b);
  const span = times.at(-1)! - times[0]!;
  assert.ok(span > 3 * 3_600_000 && span < 3 * 3_600_000 + 5 * 60_000, `spans ${span} ms of event time`);
  for (let i = 1; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]!;
    assert.ok(gap > 55_000 - 800 && gap < 55_000 + 800, `gap ${gap}`);
  }
  assert.ok(times.at(-1)! <= Date.now(), 'no event is stamped in the future');
  const alerts = await lab.env.store.alerts.listAlerts({ detonationId });
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.alertType, 'VM_SshBruteForceFailed');
  assert.ok(alerts[0]!.count >= 15, `every ten guesses in ten minutes fold into one alert (count ${alerts[0]!.count})`);
});
