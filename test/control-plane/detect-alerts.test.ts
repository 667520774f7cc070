import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { runOfflineDetection } from '../../control-plane/detection/offline-detect.ts';
import { detectAlertsWorkload, ROUND_OFFSETS_H } from './detect-alerts-workload.ts';

/**
 * Issue 13, item 9 (second round): `arcsim detect` folds the occurrences of one dedup key in
 * memory within a transaction (AlertFolds) instead of one store upsert per occurrence, and its
 * transactions are larger. The alert rows must not change. The expected rows were written by
 * runOfflineDetection at commit abfc699 (before: one upsertAlert per occurrence, 5,000 events per
 * transaction) over the same workload (detect-alerts-workload.ts); `timeGenerated` and
 * `updatedAt` are the wall clock and are left out. Alert ids are compared too: they are drawn
 * once per occurrence, as before.
 */
const EXPECTED = join(import.meta.dirname, '..', 'fixtures', 'detect-alerts', 'alerts-abfc699.json');

test('arcsim detect: the alert rows over the SigmaHQ sample and the Atomic fixtures are those of abfc699', async () => {
  const w = detectAlertsWorkload();
  const r = await runOfflineDetection(w.events, { rules: w.rules, deviceOs: w.deviceOs });
  const rows = JSON.parse(JSON.stringify(r.alerts.map(({ timeGenerated, updatedAt, ...a }) => a)));
  const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as Array<{ count: number }>;
  // The workload exercises both in-memory paths: folds within the window, and new alerts past it.
  assert.ok(expected.some((a) => a.count >= 5) && expected.length >= 3 * 7, `${expected.length} alerts`);
  assert.equal(ROUND_OFFSETS_H.length, 8);
  assert.deepEqual(rows, expected);
});
