import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/index.ts';
import { eventsFrame } from '../../agent/outbox.ts';
import { Spool, type Batch } from '../../agent/spool.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { cleanup, enableExtensions, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';

const facts = async () => ({ machine: TEST_FACTS, sqlInstances: [] });
const ssh = loadLibrary().get('ssh-brute-force-failed')!;

function events(n: number, from = 0): SensorEvent[] {
  return planEvents(ssh, { detonationId: `d-${from}`, device: { id: 'a', name: 'h' }, startTime: Date.UTC(2026, 0, 1) + from * 60_000, inputs: { attempts: n } })
    .map((p) => p.event);
}

/** A batch's events, parsed from the JSON text the spool keeps them as. */
const parsed = (b: Batch | undefined): SensorEvent[] => (b?.json ?? []).map((j) => JSON.parse(j) as SensorEvent);

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a full spool drops the oldest events first, counts them, warns, and keeps all that on disk', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'spool.log');
  const spool = new Spool({ file, maxEvents: 5, warnRatio: 0.8 });
  const seen: string[] = [];
  spool.on('dropped', (d) => seen.push(`dropped ${d.dropped} total ${d.total}`));
  spool.on('flood', (f) => seen.push(`flood ${f.pending}/${f.maxEvents}`));
  const first = events(3, 0);
  spool.push(first);
  const batch = spool.take(10)!;
  assert.deepEqual(parsed(batch).map((e) => e.ReportId), first.map((e) => e.ReportId));
  const second = events(4, 1);
  assert.equal(spool.push(second), 2, 'two oldest dropped to keep 5');
  assert.equal(spool.pending(), 5);
  assert.equal(spool.dropped(), 2);
  assert.deepEqual(seen, ['dropped 2 total 2', 'flood 5/5']);
  // What is left is the newest five, in order; the in-flight batch lost its dropped events.
  assert.deepEqual(parsed(spool.unacked()[0]).map((e) => e.ReportId), [first[2]!.ReportId]);
  const rest = spool.take(10)!;
  assert.deepEqual(parsed(rest).map((e) => e.ReportId), second.map((e) => e.ReportId));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  spool.close();

  // Reopened (an agent restart): the same batches, seqs and drop count.
  const again = new Spool({ file, maxEvents: 5, warnRatio: 0.8 });
  t.after(() => again.close());
  assert.equal(again.pending(), 5);
  assert.equal(again.dropped(), 2);
  assert.deepEqual(again.unacked().map((b) => b.seq), [batch.seq, rest.seq]);
  assert.equal(again.ack(batch.seq), true);
  assert.equal(again.pending(), 4);
  assert.equal(again.take(10), undefined, 'nothing unsent left');
  // A push larger than the bound keeps only its newest events.
  assert.equal(again.push(events(7, 2)), 6);
  assert.equal(again.pending(), 5);
});

test('a torn last line (the agent died inside a write) is ignored and cut off; a damaged line before it is refused', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'spool.log');
  const spool = new Spool({ file, maxEvents: 100, warnRatio: 0.9 });
  const first = events(3, 0);
  spool.push(first);
  const b = spool.take(2)!;
  spool.close();
  appendFileSync(file, '{"p":[{"Table":"Devi'); // a write that never completed
  const again = new Spool({ file, maxEvents: 100, warnRatio: 0.9 });
  assert.equal(again.pending(), 3);
  assert.deepEqual(again.unacked().map((x) => [x.seq, x.json.length]), [[b.seq, 2]]);
  const second = events(2, 1);
  again.push(second);
  again.close();
  const reopened = new Spool({ file, maxEvents: 100, warnRatio: 0.9 });
  assert.equal(reopened.pending(), 5, 'the push after the torn line starts on a line of its own');
  assert.deepEqual(parsed(reopened.take(10)).map((e) => e.ReportId), [first[2]!.ReportId, ...second.map((e) => e.ReportId)]);
  reopened.close();
  const lines = readFileSync(file, 'utf8').split('\n');
  appendFileSync(file, 'garbage\n{"a":1}\n');
  assert.throws(() => new Spool({ file, maxEvents: 100, warnRatio: 0.9 }), new RegExp(`damaged at line ${lines.length}`));
});

test('a power cut\'s garbage tail (a partly written block: NUL bytes, half lines) is ignored, not taken for damage', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'spool.log');
  const spool = new Spool({ file, maxEvents: 100, warnRatio: 0.9 });
  const first = events(3);
  spool.push(first);
  spool.close();
  appendFileSync(file, Buffer.concat([Buffer.alloc(512), Buffer.from('\n{"p":[{"Tab\n'), Buffer.alloc(64)]));
  const again = new Spool({ file, maxEvents: 100, warnRatio: 0.9 });
  t.after(() => again.close());
  assert.deepEqual(parsed(again.take(10)).map((e) => e.ReportId), first.map((e) => e.ReportId));
});

test('offline, a full spool that keeps dropping stays a bounded file (compacted on push too)', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'spool.log');
  const spool = new Spool({ file, maxEvents: 10, warnRatio: 0.9 });
  t.after(() => spool.close());
  for (let i = 0; i < 5000; i++) spool.push(events(1, i)); // never taken, never acked: the control plane is away
  assert.equal(spool.pending(), 10);
  assert.equal(spool.dropped(), 4990);
  const lines = readFileSync(file, 'utf8').split('\n').length - 1;
  assert.ok(lines < 1100, `${lines} lines for 10 live events after 5000 pushes`);
  const again = new Spool({ file: file, maxEvents: 10, warnRatio: 0.9 });
  assert.equal(again.dropped(), 4990);
  assert.equal(again.pending(), 10);
  again.close();
});

test('the log is compacted once acked records pile up, and keeps batches, seqs and the drop count', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'spool.log');
  const spool = new Spool({ file, maxEvents: 3, warnRatio: 0.9 });
  spool.push(events(5, 0)); // 2 dropped
  for (let i = 0; i < 600; i++) {
    spool.push(events(1, i + 1));
    const b = spool.take(1)!;
    assert.equal(spool.ack(b.seq), true);
  }
  const inflight = spool.take(2)!;
  // 1 + 600 × 3 + 1 records were written; compaction starts over from the live content past 1000.
  const lines = readFileSync(file, 'utf8').split('\n').length - 1;
  assert.ok(lines < 1000, `compacted: ${lines} lines left of 1802 records`);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  spool.close();
  const again = new Spool({ file, maxEvents: 3, warnRatio: 0.9 });
  t.after(() => again.close());
  assert.equal(again.dropped(), spool.dropped());
  assert.ok(again.dropped() >= 2);
  assert.deepEqual(again.unacked(), [inflight]);
  again.push(events(1, 1000));
  assert.equal(again.take(5)!.seq, inflight.seq + 1, 'sequence numbers go on where they stopped');
});

/**
 * A child that pushes batches of 2 events and takes batches of 3, printing what each call returned,
 * until killed. Each line is handed to the OS before the next push (a stdout pipe write may be
 * queued, and a loop that never yields would never flush it), so after the last line we read the
 * child did at most one more push.
 */
const WRITER = `
import { Spool } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'agent', 'spool.ts'))};
const spool = new Spool({ file: process.argv[1], maxEvents: 1000000, warnRatio: 1 });
for (let i = 0; ; i++) {
  spool.push([{ ReportId: 'e' + (2 * i) }, { ReportId: 'e' + (2 * i + 1) }]);
  const b = i % 2 ? spool.take(3) : undefined;
  const line = JSON.stringify({ pushed: 2 * i + 2, seq: b?.seq, ids: b?.json.map((j) => JSON.parse(j).ReportId) }) + '\\n';
  await new Promise((written) => process.stdout.write(line, written));
}
`;

test('a batch is framed from its spooled JSON text, exactly as JSON.stringify frames the events, also after a restart', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'spool.log');
  // Text that JSON must escape, non-ASCII, numbers and nested objects, next to library events.
  const odd = { ...events(1, 9)[0]!, ProcessCommandLine: 'cmd /c "echo \\ \t \u2028 é 😀"', AdditionalFields: { n: -1.5e-7, big: 2 ** 53, nested: { a: [1, null, true] } } } as SensorEvent;
  const pushed = [...events(3), odd];
  const spool = new Spool({ file, maxEvents: 100, warnRatio: 1 });
  spool.push(pushed.slice(0, 2));
  spool.pushJson(pushed.slice(2).map((e) => JSON.stringify(e)));
  const b = spool.take(10)!;
  const expected = JSON.stringify({ v: 1, type: 'events', seq: b.seq, events: pushed });
  assert.equal(eventsFrame(b), expected);
  spool.close();
  const again = new Spool({ file, maxEvents: 100, warnRatio: 1 });
  t.after(() => again.close());
  assert.equal(eventsFrame(again.unacked()[0]!), expected, 'replayed from the log: the same frame');
});

test('kill -9 mid-stream: every push and batch that returned is in the spool after a restart, in order, seqs kept', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'spool.log');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c;
    if (out.split('\n').length > 3000) child.kill('SIGKILL');
  });
  // 'close', not 'exit': the lines still in the pipe when the child died are read first.
  const [, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (code, sig) => resolve([code, sig])));
  assert.equal(signal, 'SIGKILL');
  const reported = out.split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as { pushed: number; seq?: number; ids?: string[] });
  const last = reported[reported.length - 1]!;
  const spool = new Spool({ file, maxEvents: 1000000, warnRatio: 1 });
  t.after(() => spool.close());
  // The child may have done one more push/take after its last line reached us, never less.
  assert.ok(spool.pending() >= last.pushed && spool.pending() <= last.pushed + 2, `${spool.pending()} spooled, ${last.pushed} reported`);
  const batches = spool.unacked();
  const taken = reported.filter((r) => r.seq !== undefined);
  assert.deepEqual(batches.slice(0, taken.length).map((b) => [b.seq, parsed(b).map((e) => e.ReportId)]), taken.map((r) => [r.seq, r.ids]));
  const all = [...batches.flatMap(parsed), ...parsed(spool.take(1e9))].map((e) => e.ReportId);
  assert.deepEqual(all, all.map((_, i) => `e${i}`), 'nothing lost or reordered');
});

test('the control plane dies mid-scenario and comes back: every produced event is stored exactly once', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  let env = await startControlPlane({ dir });
  const port = Number(new URL(env.url).port);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(dir, 'agent'), facts, backoffMinMs: 20, backoffMaxMs: 100 });
  t.after(() => agent.stop());
  const first = agent.waitRegistered();
  await agent.start();
  await first;
  await enableExtensions(env.cp, agent.agentId!);
  const produced: string[] = [];
  agent.on('spooled', (e: SensorEvent) => produced.push(e.ReportId));

  const firstAck = new Promise((resolve) => agent.once('ack', resolve));
  // ~30 s of scenario time at 25x: about 1.2 s of playback.
  const played = agent.play({ scenario: ssh as any, detonationId: 'outage', speed: 25 });
  await firstAck;
  await env.close(); // mid-scenario
  const producedAtOutage = produced.length;
  await new Promise((r) => setTimeout(r, 400)); // the player keeps producing into the spool
  assert.ok(agent.pendingEvents() > 0, 'events wait in the spool while the control plane is away');
  env = await startControlPlane({ dir, config: { port } });
  t.after(() => env.close());
  const result = await played;
  assert.ok(producedAtOutage < 10, `the outage was mid-scenario (${producedAtOutage} produced)`);
  assert.equal(result.events, 10);
  assert.equal(produced.length, 10);
  const stored = (await env.store.events.listEvents({ detonationId: 'outage' })).map((e) => e.ReportId);
  assert.equal(stored.length, 10, 'exactly once: no event lost, none stored twice');
  assert.deepEqual(new Set(stored), new Set(produced));
  assert.equal(agent.pendingEvents(), 0);
  const alerts = await env.store.alerts.listAlerts({ detonationId: 'outage' });
  assert.deepEqual(alerts.map((a) => [a.alertType, a.count]), [['VM_SshBruteForceFailed', 1]]);
});

test('the agent restarts mid-stream: the new process resends what was not acked, exactly once', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const stateDir = join(env.dir, 'agent');
  // 2 events/s: the spool drains slowly, so the restart lands mid-stream.
  const a1 = new Agent({ controlPlane: env.url, token: token.token, stateDir, facts, eventsPerSecond: 2, eventsBurst: 2 });
  const r1 = a1.waitRegistered();
  await a1.start();
  await r1;
  await enableExtensions(env.cp, a1.agentId!);
  await a1.drained(); // the DeviceInfo row sent after registering is acked: the next ack is the scenario's
  const produced: string[] = [];
  a1.on('spooled', (e: SensorEvent) => produced.push(e.ReportId));
  const detonationId = randomUUID();
  const firstAck = new Promise((resolve) => a1.once('ack', resolve));
  const played = a1.play({ scenario: ssh as any, detonationId }).then(() => 'finished', (err: Error) => err.message);
  await firstAck;
  const stored1 = await env.store.events.countEvents({ detonationId });
  const left = a1.pendingEvents();
  await a1.stop();
  assert.match(await played, /stopped/);
  assert.equal(produced.length, 10);
  assert.ok(stored1 >= 1 && left > 0 && stored1 + left >= 10, `mid-stream: ${stored1} stored, ${left} spooled`);

  const a2 = new Agent({ controlPlane: env.url, stateDir, facts }); // same state dir, no token needed
  t.after(() => a2.stop());
  await a2.start();
  await until(() => a2.connected && a2.pendingEvents() === 0, 'the restarted agent to drain its spool');
  const stored = (await env.store.events.listEvents({ detonationId })).map((e) => e.ReportId);
  assert.equal(stored.length, 10);
  assert.deepEqual(new Set(stored), new Set(produced));
  assert.equal(a2.agentId, a1.agentId);
});

test('the agent caps its send rate (events per second) and never blocks the player', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const agent = new Agent({ controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts, eventsPerSecond: 10, eventsBurst: 10, spoolMaxEvents: 15 });
  t.after(() => agent.stop());
  const r = agent.waitRegistered();
  await agent.start();
  await r;
  await enableExtensions(env.cp, agent.agentId!);
  // The DeviceInfo / DeviceNetworkInfo rows sent after registering go out first, so the spool holds only the play's events.
  await until(() => agent.pendingEvents() === 0, 'the device state rows to be acked');
  const warnings: string[] = [];
  agent.on('flood', () => warnings.push('flood'));
  agent.on('dropped', (d) => warnings.push(`dropped ${d.dropped}`));
  const started = Date.now();
  const played = agent.play({ scenario: ssh as any, detonationId: 'capped', inputs: { attempts: 20 } });
  // 20 events into a 15-event spool at once: the 5 oldest are dropped; the burst of 10 goes out, the rest waits for tokens.
  const result = await played;
  const took = Date.now() - started;
  assert.equal(result.events, 20);
  assert.ok(warnings.includes('flood'), warnings.join());
  assert.ok(took >= 400, `rate-capped: ${took} ms for 20 events at 10/s with a burst of 10`);
  const stored = await env.store.events.countEvents({ detonationId: 'capped' });
  assert.equal(stored + agent.droppedEvents(), 20, 'every event is either stored or counted as dropped');
});
