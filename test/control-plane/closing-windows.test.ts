import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { SensorEvent } from '../../protocol/index.ts';
import { detectOffline } from '../../control-plane/detection/offline-detect.ts';
import { loadRules } from '../../control-plane/detection/index.ts';
import { cleanup, enroll, RawAgent, startControlPlane, tempDir } from '../helpers.ts';

/** A few failed logons per source, then silence: decided only once the 10-minute window has closed. */
const RULES = `title: Failed logon
id: 0b7f3c1e-2d4a-4e5f-9a6b-7c8d9e0f1a21
name: failed_logon
status: test
level: informational
logsource: { category: authentication }
detection:
  selection: { ActionType: LogonFailed }
  condition: selection
---
title: Few failed logons from one source (probing below brute-force thresholds)
id: 0b7f3c1e-2d4a-4e5f-9a6b-7c8d9e0f1a22
name: low_and_slow_probe
status: test
level: low
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [DeviceId, RemoteIP]
  timespan: 10m
  condition: { lt: 3 }
arcsim:
  alertType: ARCSIM_TEST_LowAndSlowProbe
  alertDisplayName: Low and slow probing
  severity: Low
  intent: Probing
  product: MDC
  description: Fewer than three failed logons from one source in ten minutes.
---
title: Exactly two distinct accounts tried from one source
id: 0b7f3c1e-2d4a-4e5f-9a6b-7c8d9e0f1a23
name: two_accounts_exactly
status: test
level: low
correlation:
  type: value_count
  rules: [failed_logon]
  group-by: [RemoteIP]
  timespan: 10m
  condition: { eq: 2, field: AccountName }
arcsim:
  alertType: ARCSIM_TEST_TwoAccounts
  alertDisplayName: Two accounts tried
  severity: Low
  intent: Probing
  product: MDC
  description: Exactly two accounts tried from one source in ten minutes.
`;

const T0 = Date.UTC(2026, 4, 4, 9, 0, 0);
function logon(device: string, minutes: number, ip: string, account = 'root'): SensorEvent {
  const time = T0 + minutes * 60_000;
  return {
    Table: 'DeviceLogonEvents', Timestamp: new Date(time).toISOString(), DeviceId: device, DeviceName: 'probe-target',
    ActionType: 'LogonFailed', ReportId: uuidv7({ msecs: time }), RemoteIP: ip, AccountName: account, LogonType: 'Network',
  };
}

test('lt/lte/eq correlations load; lt fires only when its window has closed, through the control plane and after a restart', async (t) => {
  const rulesDir = tempDir();
  t.after(() => cleanup(rulesDir));
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(join(rulesDir, 'closing.yml'), RULES);
  assert.equal(loadRules([{ file: 'closing.yml', text: RULES }]).correlations.map((c) => c.op).join(','), 'lt,eq');

  const dir = tempDir();
  t.after(() => cleanup(dir));
  let env = await startControlPlane({ dir, config: { rulesDirs: [rulesDir], lateness: '1m' } });
  const port = Number(new URL(env.url).port);
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const creds = await enroll(env.url, token.token, 'probe-target');
  let a = await RawAgent.connect(env.url, creds);
  await a.register({ ...(await import('../helpers.ts')).TEST_FACTS, hostname: 'probe-target' });
  const id = creds.agentId;
  let seq = 0;
  const send = async (events: SensorEvent[]) => {
    a.send({ v: 1, type: 'events', seq: ++seq, events });
    await a.next('ack');
  };
  // Two failures from .7 (fewer than 3), three from .8 (not fewer than 3).
  await send([logon(id, 0, '198.51.100.7'), logon(id, 1, '198.51.100.7'), logon(id, 0, '198.51.100.8'), logon(id, 2, '198.51.100.8'), logon(id, 3, '198.51.100.8')]);
  assert.equal((await env.store.alerts.listAlerts({ alertType: 'ARCSIM_TEST_LowAndSlowProbe' })).length, 0, 'undecided while the window is open');

  // The control plane restarts; the open windows live in the store.
  a.close();
  await env.close();
  env = await startControlPlane({ dir, config: { rulesDirs: [rulesDir], lateness: '1m', port } });
  t.after(() => env.close());
  a = await RawAgent.connect(env.url, creds);
  t.after(() => a.close());
  await a.register({ ...(await import('../helpers.ts')).TEST_FACTS, hostname: 'probe-target' });
  // 9 minutes in: window end (10m) plus lateness (1m) not reached yet.
  await send([logon(id, 9, '192.0.2.50', 'alice')]);
  assert.equal((await env.store.alerts.listAlerts({ alertType: 'ARCSIM_TEST_LowAndSlowProbe' })).length, 0);
  // 12 minutes in: both windows are closed and decided.
  await send([logon(id, 12, '192.0.2.50', 'alice')]);
  const fired = await env.store.alerts.listAlerts({ alertType: 'ARCSIM_TEST_LowAndSlowProbe' });
  assert.equal(fired.length, 1, 'only the source with fewer than three failures');
  assert.equal(fired[0]!.properties.entities && (fired[0]!.properties.entities as any[]).find((e) => e.type === 'ip').address, '198.51.100.7');
  assert.equal((await env.store.alerts.alertEvents(fired[0]!.systemAlertId)).length, 2);
});

test('offline detection decides the windows still open at the end of the stream (eq on a distinct count)', async (t) => {
  const rulesDir = tempDir();
  t.after(() => cleanup(rulesDir));
  writeFileSync(join(rulesDir, 'closing.yml'), RULES);
  const events = [
    logon('dev-1', 0, '203.0.113.1', 'root'), logon('dev-1', 1, '203.0.113.1', 'admin'), // two accounts: eq 2
    logon('dev-1', 0, '203.0.113.2', 'root'), logon('dev-1', 1, '203.0.113.2', 'admin'), logon('dev-1', 2, '203.0.113.2', 'oracle'),
  ];
  const alerts = await detectOffline(events.reverse(), { rulesDir });
  const two = alerts.filter((x) => x.alertType === 'ARCSIM_TEST_TwoAccounts');
  assert.equal(two.length, 1);
  assert.equal((two[0]!.properties.entities as any[]).find((e) => e.type === 'ip').address, '203.0.113.1');
  // 203.0.113.1 failed twice (fewer than three), 203.0.113.2 three times: lt 3 fires for .1 only.
  assert.deepEqual(alerts.filter((x) => x.alertType === 'ARCSIM_TEST_LowAndSlowProbe').length, 1);
});
