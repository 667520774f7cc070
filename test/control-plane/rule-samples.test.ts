import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRulesDir } from '../../control-plane/detection/index.ts';
import { detectOffline, parseEventsNdjson } from '../../control-plane/detection/offline-detect.ts';
import { toMdcAlert } from '../../control-plane/alerts/mdc-alert.ts';
import { loadLibrary } from '../../scenarios/index.ts';
import { ALERT_REFERENCE } from '../support/alert-reference.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'rule-samples');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const expectedFiles = readdirSync(DIR).filter((f) => f.endsWith('.expected.json')).sort();

test('every alerting rule has a regression sample (regenerate with test/support/gen-rule-samples.ts)', () => {
  const rules = loadRulesDir();
  const alerting = [...rules.detections, ...rules.correlations].filter((r) => r.mapping).map((r) => r.name);
  assert.deepEqual(expectedFiles.map((f) => f.replace('.expected.json', '')).sort(), [...alerting].sort());
});

for (const file of expectedFiles) {
  const expected = JSON.parse(read(file));
  test(`rule ${expected.rule}: its sample raises ${expected.alertType} ×${expected.count}; the benign sample raises nothing`, async () => {
    const alerts = await detectOffline(parseEventsNdjson(read(`${expected.rule}.attack.ndjson`), `${expected.rule}.attack.ndjson`));
    const mine = alerts.filter((a) => a.alertType === expected.alertType);
    assert.equal(mine.length, expected.count, `alerts of type ${expected.alertType}`);
    const reference = ALERT_REFERENCE[expected.alertType];
    assert.ok(reference, `${expected.alertType} has an entry in test/support/alert-reference.ts`);
    const mdc = toMdcAlert(mine[0]!, 'http://127.0.0.1').properties as Record<string, unknown>;
    assert.equal(mdc.alertDisplayName, reference.alertDisplayName);
    assert.equal(mdc.severity, reference.severity);
    assert.equal(mdc.productName, reference.productName);
    assert.equal(mine[0]!.properties.detectingProduct, reference.detectingProduct);
    if (reference.intent) assert.deepEqual(String(mdc.intent).split(/,\s*/).sort(), [...reference.intent].sort());
    // Nothing the scenario does not expect.
    const allowed = new Set(loadLibrary().get(expected.scenario)!.expect.alerts.map((a) => a.alertType));
    assert.deepEqual(alerts.filter((a) => !allowed.has(a.alertType)).map((a) => a.alertType), []);
    const benign = await detectOffline(parseEventsNdjson(read(`${expected.rule}.benign.ndjson`), `${expected.rule}.benign.ndjson`));
    assert.deepEqual(benign.map((a) => a.alertType), [], 'the benign twin raises nothing');
  });
}
