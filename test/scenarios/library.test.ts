import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRulesDir } from '../../control-plane/detection/index.ts';
import { ManualClock } from '../../lib/clock.ts';
import { loadLibrary } from '../../scenarios/index.ts';
import { factsFor, startAgentLab } from '../helpers.ts';

const library = [...loadLibrary().values()];
/** A Wednesday, 10:00 UTC: inside office hours, so only scenarios that pin their own hour are "at night". */
const NOW = Date.UTC(2026, 2, 4, 10, 0, 0);

test('every expected alert type has a shipped rule raising it on the expected product', () => {
  const rules = loadRulesDir();
  const mapped = new Map([...rules.detections, ...rules.correlations].filter((r) => r.mapping).map((r) => [r.mapping!.alertType, r.mapping!.product]));
  for (const s of library) {
    for (const a of s.expect.alerts) assert.equal(mapped.get(a.alertType), a.product, `${s.slug}: ${a.alertType} on ${a.product}`);
  }
});

for (const s of library) {
  test(`library: ${s.slug} raises ${s.expect.alerts.map((a) => a.alertType).join(', ')} through the control plane; its benign twin raises nothing`, async (t) => {
    const lab = await startAgentLab({ agentClock: new ManualClock(NOW), facts: factsFor(s) }); // OS-true: a host of the scenario's OS
    t.after(() => lab.close());
    const attack = await lab.play(s, { seed: 1 });
    assert.ok(attack.result.ok, attack.result.message);
    const raised = await lab.env.store.alerts.listAlerts({ detonationId: attack.detonationId });
    const byType = new Map<string, typeof raised>();
    for (const a of raised) byType.set(a.alertType, [...(byType.get(a.alertType) ?? []), a]);
    assert.deepEqual([...byType.keys()].sort(), s.expect.alerts.map((a) => a.alertType).sort(), 'exactly the expected alert types');
    for (const exp of s.expect.alerts) {
      const alerts = byType.get(exp.alertType)!;
      assert.equal(alerts.length, exp.count, `${exp.alertType}: ${exp.count} alert(s) after dedup`);
      assert.equal(alerts[0]!.properties.detectingProduct, exp.product);
      assert.equal(alerts[0]!.resourceId, lab.machineId);
    }
    const before = (await lab.env.store.alerts.listAlerts()).length;
    const benign = await lab.play(s, { variant: 'benign', seed: 1 });
    assert.ok(benign.result.ok, benign.result.message);
    assert.ok(benign.result.events! > 0);
    assert.equal((await lab.env.store.alerts.listAlerts({ detonationId: benign.detonationId })).length, 0, 'the benign twin raises nothing');
    assert.equal((await lab.env.store.alerts.listAlerts()).length, before, 'and adds to no alert');
  });
}
