/**
 * Writes the regression sample of every alerting rule to test/fixtures/rule-samples/:
 * `<rule>.attack.ndjson` (events that must raise the alert), `<rule>.benign.ndjson` (the benign
 * twin's events, which must raise nothing) and `<rule>.expected.json` (which alert type the sample
 * is for and how many alerts the scenario expects). What that alert must look like is not copied
 * from the rule: test/support/alert-reference.ts holds it, written from the MDC alert reference.
 * Samples are played from the library scenario that expects the rule's alert, with a fixed seed
 * and start, so they only change when a scenario does. Run: node --import tsx test/support/gen-rule-samples.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRulesDir } from '../../control-plane/detection/index.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';

export const SAMPLES_DIR = join(import.meta.dirname, '..', 'fixtures', 'rule-samples');
/** Monday 2026-03-02 10:00 UTC: inside office hours, so only the rules under test fire. */
export const SAMPLE_START = Date.UTC(2026, 2, 2, 10, 0, 0);

const device = { id: 'sample-agent-0001', name: 'sample-host' };
const rules = loadRulesDir();
const library = [...loadLibrary().values()];
mkdirSync(SAMPLES_DIR, { recursive: true });
for (const rule of [...rules.detections, ...rules.correlations]) {
  if (!rule.mapping || !rule.name) continue;
  const scenario = library.find((s) => s.expect.alerts.some((a) => a.alertType === rule.mapping!.alertType));
  if (!scenario) throw new Error(`no library scenario expects ${rule.mapping.alertType} (rule ${rule.name})`);
  const expected = scenario.expect.alerts.find((a) => a.alertType === rule.mapping!.alertType)!;
  const ndjson = (variant: 'attack' | 'benign') =>
    planEvents(scenario, { variant, seed: 1, detonationId: `sample-${rule.name}-${variant}`, device, startTime: SAMPLE_START })
      .map((p) => JSON.stringify(p.event)).join('\n') + '\n';
  writeFileSync(join(SAMPLES_DIR, `${rule.name}.attack.ndjson`), ndjson('attack'));
  writeFileSync(join(SAMPLES_DIR, `${rule.name}.benign.ndjson`), ndjson('benign'));
  writeFileSync(join(SAMPLES_DIR, `${rule.name}.expected.json`), JSON.stringify({
    rule: rule.name, ruleId: rule.id, scenario: scenario.slug, alertType: rule.mapping.alertType, count: expected.count,
  }, null, 2) + '\n');
  process.stdout.write(`${rule.name}: ${scenario.slug}\n`);
}
