import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { detectOffline } from '../../control-plane/detection/offline-detect.ts';
import { compileRules, reportRulesDirs } from '../../control-plane/detection/index.ts';
import { EventSchema, type SensorEvent } from '../../protocol/index.ts';

/**
 * Issue 13, item 5: a rule without an `arcsim:` block raises an alert as an MDE custom detection
 * does (display name = title, severity from level, ATT&CK from tags, detectionSource
 * CustomDetection, alert type from the rule id), deduplicated like any other.
 */
const SIGMAHQ = join(import.meta.dirname, '..', 'fixtures', 'sigmahq');
const T0 = Date.UTC(2026, 2, 1, 10);

function event(fields: Record<string, unknown>, at: number): SensorEvent {
  return EventSchema.parse({ Timestamp: new Date(at).toISOString(), DeviceId: 'dev-1', DeviceName: 'ws-01', ReportId: uuidv7({ msecs: at }), ...fields });
}

test('a real SigmaHQ rule (Renamed Whoami Execution) raises a custom-detection alert over a matching event', async () => {
  const file = join(SIGMAHQ, 'rules', 'windows', 'process_creation', 'proc_creation_win_renamed_whoami.yml');
  const { set, refused } = compileRules([{ file, text: readFileSync(file, 'utf8') }]);
  assert.equal(refused.length, 0);
  const renamed = { Table: 'DeviceProcessEvents', ActionType: 'ProcessCreated', FileName: 'svc.exe', FolderPath: 'C:\\Users\\bob\\Desktop\\svc.exe', ProcessVersionInfoOriginalFileName: 'whoami.exe', ProcessCommandLine: 'svc.exe /all' };
  const genuine = { ...renamed, FileName: 'whoami.exe', FolderPath: 'C:\\Windows\\System32\\whoami.exe' };
  const alerts = await detectOffline([event(renamed, T0), event(renamed, T0 + 60_000), event(genuine, T0 + 120_000)], { rules: set });
  assert.equal(alerts.length, 1, 'the two renamed runs are one alert (dedup); the genuine whoami raises nothing');
  const a = alerts[0]!;
  assert.equal(a.alertType, 'CustomDetection_f1086bf7-a0c4-4a37-9102-01e573caf4a0');
  assert.equal(a.count, 2);
  assert.equal(a.severity, 'High', 'level critical: MDE has no Critical severity');
  assert.equal(a.properties.alertDisplayName, 'Renamed Whoami Execution');
  assert.equal(a.properties.detectionSource, 'CustomDetection');
  assert.equal(a.properties.detectingProduct, 'MDE');
  assert.equal(a.properties.intent, 'Discovery');
  assert.deepEqual(a.properties.techniques, ['T1033']);
});

test('the specification\'s event_count example (no status, no level) loads and fires; its base rule alone raises nothing', async () => {
  const report = reportRulesDirs([join(SIGMAHQ, 'spec')]);
  assert.deepEqual(report.refused, []);
  assert.equal(report.set.correlations.length, 1);
  const failed = (i: number) => event({ Table: 'DeviceLogonEvents', ActionType: 'LogonFailed', AccountName: 'admin', RemoteIP: '203.0.113.7' }, T0 + i * 1000);
  const below = await detectOffline(Array.from({ length: 99 }, (_, i) => failed(i)), { rules: report.set });
  assert.deepEqual(below, [], '99 failed logons in an hour: below gte 100, and the referenced rule does not generate');
  const at = await detectOffline(Array.from({ length: 100 }, (_, i) => failed(i)), { rules: report.set });
  assert.deepEqual(at.map((a) => [a.alertType, a.properties.alertDisplayName, a.severity]), [['CustomDetection_0e95725d-7320-415d-80f7-004da920fc11', 'Many failed logins', 'Medium']]);
});

test('generate: true makes the referenced rules raise their own alerts too', async () => {
  const base = readFileSync(join(SIGMAHQ, 'spec', 'failed_logon.yml'), 'utf8');
  const corr = `title: Two failed logons\nid: 9a3c1c44-5b57-4f0b-a0a7-0f5c2b7e3f10\ncorrelation:\n  type: event_count\n  rules: [5638f7c0-ac70-491d-8465-2a65075e0d86]\n  group-by: [DeviceName]\n  timespan: 1h\n  generate: true\n  condition:\n    gte: 2\n`;
  const { set } = compileRules([{ file: 'b.yml', text: base }, { file: 'c.yml', text: corr }]);
  const failed = (i: number) => event({ Table: 'DeviceLogonEvents', ActionType: 'LogonFailed' }, T0 + i * 1000);
  const alerts = await detectOffline([failed(0), failed(1)], { rules: set });
  assert.deepEqual(alerts.map((a) => a.properties.alertDisplayName).sort(), ['Failed logon', 'Two failed logons']);
});
