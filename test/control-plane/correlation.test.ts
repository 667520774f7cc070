import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { DetectionEngine, loadRules, type RuleSet } from '../../control-plane/detection/index.ts';
import { groupKeyOf } from '../../control-plane/detection/detection-engine.ts';
import { openSqliteStore, type Store } from '../../control-plane/index.ts';
import type { SensorEvent } from '../../protocol/index.ts';
import { cleanup, tempDir } from '../helpers.ts';

const head = (id: string, name: string, title = name) => `title: ${title}\nid: ${id}\nname: ${name}\nstatus: test\nlevel: low\n`;
const mapping = (type: string) => `arcsim:\n  alertType: ${type}\n  alertDisplayName: ${type}\n  severity: High\n  intent: Exploitation\n  product: MDC\n  description: x\n`;

const BRUTE_THEN_SUCCESS = `${head('00000000-0000-4000-8000-000000000001', 'failed_logon')}logsource:\n  category: authentication\ndetection:\n  s:\n    ActionType: LogonFailed\n  condition: s
---
${head('00000000-0000-4000-8000-000000000002', 'logon_success')}logsource:\n  category: authentication\ndetection:\n  s:\n    ActionType: LogonSuccess\n  condition: s
---
${head('00000000-0000-4000-8000-000000000003', 'many_failed')}correlation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [DeviceId, RemoteIP]\n  timespan: 10m\n  condition:\n    gte: 3
---
${head('00000000-0000-4000-8000-000000000004', 'brute_then_success')}correlation:\n  type: temporal_ordered\n  rules: [many_failed, logon_success]\n  group-by: [RemoteIP]\n  timespan: 30m\n${mapping('X_BruteForceSuccess')}`;

const SPAWN_THEN_CONNECT = `${head('00000000-0000-4000-8000-000000000011', 'shell_spawn')}logsource:\n  category: process_creation\ndetection:\n  s:\n    FileName: cmd.exe\n  condition: s
---
${head('00000000-0000-4000-8000-000000000012', 'outbound')}logsource:\n  category: network_connection\ndetection:\n  s:\n    ActionType: ConnectionSuccess\n  condition: s
---
${head('00000000-0000-4000-8000-000000000013', 'shell_connects')}correlation:\n  type: temporal\n  rules: [shell_spawn, outbound]\n  group-by: [DeviceId, pid]\n  timespan: 5m\n  aliases:\n    pid:\n      shell_spawn: ProcessId\n      outbound: InitiatingProcessId\n${mapping('X_ShellConnects')}`;

const T0 = Date.UTC(2026, 2, 4, 3, 0, 0);
let n = 0;
function ev(table: string, at: number, cols: Record<string, unknown>): SensorEvent {
  return { Table: table, Timestamp: new Date(T0 + at).toISOString(), DeviceId: 'dev-1', DeviceName: 'h1', ReportId: uuidv7({ msecs: T0 + at, seq: n++ } as never), DetonationId: 'd', ...cols } as SensorEvent;
}
const failed = (at: number, ip = '203.0.113.5') => ev('DeviceLogonEvents', at, { ActionType: 'LogonFailed', RemoteIP: ip });
const success = (at: number, ip = '203.0.113.5') => ev('DeviceLogonEvents', at, { ActionType: 'LogonSuccess', RemoteIP: ip });

async function run(store: Store, rules: RuleSet, events: SensorEvent[]) {
  const engine = new DetectionEngine(rules, { latenessMs: 3_600_000 });
  const out = [];
  for (const e of events) out.push(...(await store.transaction(async (tx) => engine.evaluate(tx, e))));
  return out;
}

test('temporal_ordered over a correlation: a success after a brute force fires once; a success before it does not', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const store = openSqliteStore({ file: join(dir, 'a.db') });
  t.after(() => store.close());
  const rules = loadRules([{ file: 'brute.yml', text: BRUTE_THEN_SUCCESS }]);
  // A success first, then three failures: wrong order, nothing.
  assert.deepEqual(await run(store, rules, [success(0), failed(1000), failed(2000), failed(3000)]), []);
  // Two failures and a success from another IP: not enough failures, nothing.
  assert.deepEqual(await run(store, rules, [failed(4000, '198.51.100.9'), failed(5000, '198.51.100.9'), success(6000, '198.51.100.9')]), []);
  // Now a success from the brute-forcing IP: fires, with the failures and the success as evidence.
  const fail3 = [failed(10_000), failed(11_000), failed(12_000)];
  const ok = success(60_000);
  const occ = await run(store, rules, [...fail3, ok]);
  assert.equal(occ.length, 1);
  assert.equal(occ[0]!.mapping.alertType, 'X_BruteForceSuccess');
  assert.equal(occ[0]!.trigger.ReportId, ok.ReportId);
  // The brute-force firing made of the first three failures (1-3 s) came before the success.
  assert.equal(occ[0]!.events.length, 4);
  assert.ok(occ[0]!.events.some((e) => e.reportId === ok.ReportId));
  // Consumed: the same success delivered as a new event later does not fire on the used evidence.
  assert.equal((await run(store, rules, [success(61_000)])).length, 1, 'the second brute-force firing (10-12 s) is still unused');
  assert.equal((await run(store, rules, [success(62_000)])).length, 0);
  // Out of the 30-minute window: failures, then a success 40 minutes later, nothing.
  assert.deepEqual(await run(store, rules, [failed(3_600_000), failed(3_601_000), failed(3_602_000), success(3_602_000 + 40 * 60_000)]), []);
});

test('temporal state lives in the store: a restart between the brute force and the success still fires', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'b.db');
  const rules = loadRules([{ file: 'brute.yml', text: BRUTE_THEN_SUCCESS }]);
  const before = openSqliteStore({ file });
  assert.deepEqual(await run(before, rules, [failed(0), failed(1000), failed(2000)]), []);
  await before.close();
  const after = openSqliteStore({ file });
  t.after(() => after.close());
  const occ = await run(after, rules, [success(30_000)]);
  assert.equal(occ.length, 1);
  assert.equal(occ[0]!.events.length, 4);
});

test('temporal (unordered) with aliases joins a process to the connections of its pid, across tables', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const store = openSqliteStore({ file: join(dir, 'c.db') });
  t.after(() => store.close());
  const rules = loadRules([{ file: 'shell.yml', text: SPAWN_THEN_CONNECT }]);
  const spawn = (at: number, pid: number) => ev('DeviceProcessEvents', at, { ActionType: 'ProcessCreated', FileName: 'cmd.exe', ProcessId: pid });
  const conn = (at: number, pid: number) => ev('DeviceNetworkEvents', at, { ActionType: 'ConnectionSuccess', RemoteIP: '203.0.113.8', InitiatingProcessId: pid });
  assert.deepEqual(await run(store, rules, [spawn(0, 100), conn(1000, 200)]), [], 'another pid');
  assert.equal((await run(store, rules, [conn(2000, 300), spawn(2500, 300)])).length, 1, 'either order');
  assert.deepEqual(await run(store, rules, [spawn(10_000, 400), conn(10_000 + 6 * 60_000, 400)]), [], 'outside 5 minutes');
});

test('the loader checks temporal and chained correlations', () => {
  const docs = BRUTE_THEN_SUCCESS.split('\n---\n');
  const base = docs.slice(0, 3).join('\n---\n');
  const detections = docs.slice(0, 2).join('\n---\n');
  // many_failed has no mapping, so each case refers to it (or the loader would refuse it first).
  const bad = (extra: string) => () => loadRules([{ file: 'x.yml', text: `${base}\n---\n${extra}\n---\n${docs[3]}` }]);
  const corr = (body: string, map = mapping('X')) => `${head('00000000-0000-4000-8000-000000000099', 'x')}correlation:\n${body}${map}`;
  assert.doesNotThrow(bad(corr('  type: temporal\n  rules: [failed_logon, logon_success]\n  timespan: 5m\n')));
  assert.throws(bad(corr('  type: temporal\n  rules: [failed_logon, logon_success]\n  timespan: 5m\n  condition:\n    gte: 2\n')), (e: any) => e.code === 'ARCSIM_E_RULE_UNSUPPORTED' && /condition/.test(e.message));
  assert.throws(bad(corr('  type: event_count\n  rules: [many_failed]\n  timespan: 5m\n  condition:\n    gte: 2\n')), (e: any) => e.code === 'ARCSIM_E_RULE_UNSUPPORTED' && /only temporal/.test(e.message));
  assert.throws(bad(corr('  type: temporal\n  rules: [many_failed, logon_success]\n  group-by: [AccountName]\n  timespan: 5m\n')), (e: any) => e.code === 'ARCSIM_E_RULE_FIELD' && /not a group-by field of correlation "many_failed"/.test(e.message));
  assert.throws(bad(corr('  type: temporal\n  rules: [failed_logon, logon_success]\n  group-by: [ip]\n  timespan: 5m\n  aliases:\n    ip:\n      failed_logon: RemoteIP\n')), (e: any) => e.code === 'ARCSIM_E_RULE_SCHEMA' && /names no field for rule "logon_success"/.test(e.message));
  assert.throws(bad(corr('  type: temporal\n  rules: [failed_logon]\n  timespan: 5m\n')), (e: any) => e.code === 'ARCSIM_E_RULE_SCHEMA');
  // A correlation without an alert mapping that nothing refers to raises a custom detection (issue 13, item 5).
  const lone = loadRules([{ file: 'x.yml', text: base }]).correlations.find((c) => c.name === 'many_failed')!;
  assert.equal(lone.mapping?.detectionSource, 'CustomDetection');
  // Correlations referring to each other in a cycle.
  const cyc = `${detections}\n---\n${head('00000000-0000-4000-8000-000000000097', 'c1')}correlation:\n  type: temporal\n  rules: [c2, logon_success]\n  timespan: 5m\n${mapping('A')}---\n${head('00000000-0000-4000-8000-000000000098', 'c2')}correlation:\n  type: temporal\n  rules: [c1, logon_success]\n  timespan: 5m\n${mapping('B')}`;
  assert.throws(() => loadRules([{ file: 'x.yml', text: cyc }]), (e: any) => e.code === 'ARCSIM_E_RULE_REFERENCE' && /cycle/.test(e.message));
});

test("a group's key is JSON.stringify of its group-by values, in the rule's order, whatever the values", () => {
  // rule_hits rows written by earlier versions hold keys made by JSON.stringify: a key built any
  // other way would open a second window beside the stored one.
  const corr = { groupBy: ['DeviceId', 'RemoteIP', 'AccountName'] } as unknown as Parameters<typeof groupKeyOf>[0];
  const values: unknown[] = [
    null, '', 'dev-1', '10.0.0.7', 'fe80::1%eth0', 'DOMAIN\\admin', 'say "hi"', 'tab\there', 'line\nbreak', '\u0000', '\u001f', '\u007f',
    'caf\u00e9', '\u2028\u2029', '\ud83d\ude00', 'lone \ud83d', 'lone \ude00', '</script>', 0, -1.5, 1e21, Number.NaN, true, false,
    { a: 1 }, ['x'],
  ];
  for (const a of values) {
    for (const b of values) {
      const group = { DeviceId: a, RemoteIP: b, AccountName: 'root' };
      assert.equal(groupKeyOf(corr, group), JSON.stringify([a, b, 'root']), `${String(a)} / ${String(b)}`);
    }
  }
});
