import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRulesDirs } from '../../control-plane/detection/index.ts';
import { loadConfigFile } from '../../control-plane/config-file.ts';
import { ArcsimError } from '../../protocol/errors.ts';
import { cleanup, tempDir } from '../helpers.ts';
import { createControlPlane } from '../../control-plane/index.ts';
import { openSqliteStore } from '../../control-plane/store/index.ts';

const BASE = `title: Failed logon
id: 5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b10
name: failed_logon
status: test
level: informational
logsource: { category: authentication }
detection:
  selection: { ActionType: LogonFailed }
  condition: selection
`;

/** Lives in another directory and refers to the rule above by name. */
const CORRELATION = `title: Many failed logons from one source
id: 5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b11
status: test
level: medium
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [RemoteIP]
  timespan: 5m
  condition: { gte: 10 }
arcsim:
  alertType: ARCSIM_TEST_ManyFailedLogons
  alertDisplayName: Many failed logons
  severity: Medium
  intent: Probing
  product: MDC
  description: Ten failed logons from one source in five minutes.
`;

function dirs(t: { after(fn: () => void): void }) {
  const root = tempDir();
  t.after(() => cleanup(root));
  const a = join(root, 'base');
  const b = join(root, 'local');
  mkdirSync(a, { recursive: true });
  mkdirSync(b, { recursive: true });
  return { root, a, b };
}

test('rule directories load as one rule set: a correlation may use a rule of another directory', (t) => {
  const { a, b } = dirs(t);
  writeFileSync(join(a, 'failed_logon.yml'), BASE);
  writeFileSync(join(b, 'many_failed_logons.yml'), CORRELATION);
  const rules = loadRulesDirs([a, b]);
  assert.deepEqual(rules.detections.map((r) => r.id), ['5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b10']);
  assert.deepEqual(rules.correlations.map((r) => r.id), ['5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b11']);
  // Alone, the second directory refers to a rule that does not exist.
  assert.throws(() => loadRulesDirs([b]), (err: ArcsimError) => err.code === 'ARCSIM_E_RULE_REFERENCE');
});

test('an id used in two rule directories is refused', (t) => {
  const { a, b } = dirs(t);
  writeFileSync(join(a, 'failed_logon.yml'), BASE);
  writeFileSync(join(b, 'copy.yml'), BASE);
  assert.throws(() => loadRulesDirs([a, b]), (err: ArcsimError) => err.code === 'ARCSIM_E_RULE_DUPLICATE');
});

test('rulesDirs in a config file are read relative to the file', (t) => {
  const { root, a, b } = dirs(t);
  const file = join(root, 'control-plane.yaml');
  writeFileSync(file, 'rulesDirs: [base, ./local]\n');
  assert.deepEqual(loadConfigFile(file).rulesDirs, [a, b]);
  writeFileSync(file, 'rulesDirs: []\n');
  assert.throws(() => loadConfigFile(file), (err: ArcsimError) => err.code === 'ARCSIM_E_CONFIG_SCHEMA' && err.path === 'rulesDirs');
});

test('the control plane loads every rule that loads (nested folders too), counts the refused; strictRules makes a refusal fatal', async (t) => {
  const { a, b } = dirs(t);
  mkdirSync(join(a, 'windows', 'process_creation'), { recursive: true });
  writeFileSync(join(a, 'windows', 'process_creation', 'failed_logon.yml'), BASE);
  // A Sigma field MDE's DeviceProcessEvents does not record: refused, the rest loads.
  writeFileSync(join(b, 'cwd.yml'), 'title: File version\nid: 5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b12\nlogsource: { category: process_creation }\ndetection:\n  s: { FileVersion: 7.0.1 }\n  condition: s\n');
  const store = openSqliteStore({ file: ':memory:' });
  t.after(() => store.close());
  const cp = createControlPlane({ store, config: { port: 0, rulesDirs: [a, b] } });
  assert.deepEqual(cp.rules.detections.map((r) => r.title), ['Failed logon']);
  assert.deepEqual(cp.refusedRules.map((r) => [r.title, r.code]), [['File version', 'ARCSIM_E_RULE_FIELD']]);
  await cp.close();
  assert.throws(() => createControlPlane({ store, config: { port: 0, rulesDirs: [a, b], strictRules: true } }), (err: ArcsimError) => err.code === 'ARCSIM_E_RULE_FIELD');
});

test('a missing rules directory is ARCSIM_E_RULE_DIR naming it (was a raw ENOENT)', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const missing = join(dir, 'no-such-rules');
  assert.throws(() => loadRulesDirs([missing]), (err: ArcsimError) => err.code === 'ARCSIM_E_RULE_DIR' && err.message.includes(missing));
});

test('an empty rules directory refuses to start the control plane unless allowNoRules (was: 0 rules, silently)', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const empty = join(dir, 'rules');
  mkdirSync(empty);
  writeFileSync(join(empty, 'README.md'), 'not a rule\n');
  const store = openSqliteStore({ file: ':memory:' });
  t.after(() => store.close());
  assert.throws(() => createControlPlane({ store, config: { port: 0, rulesDirs: [empty] } }),
    (err: ArcsimError) => err.code === 'ARCSIM_E_RULE_DIR' && err.message.includes(empty) && /allow-no-rules/.test(err.message));
  const cp = createControlPlane({ store, config: { port: 0, rulesDirs: [empty], allowNoRules: true } });
  assert.equal(cp.rules.detections.length, 0);
  await cp.close();
});
