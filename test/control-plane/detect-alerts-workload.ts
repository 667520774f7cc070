import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import type { SensorEvent } from '../../protocol/index.ts';
import { DEFAULT_RULES_DIR, reportRulesDirs, type RuleSet } from '../../control-plane/detection/index.ts';
import { readRecordedEvents } from '../../scenarios/recorded/index.ts';
import { playAtomics } from '../../testruns/coverage/coverage.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const HOUR = 3_600_000;

/**
 * Offsets of the rounds, hours after the first: with the rules' 24 h dedup window, later rounds
 * fold into the first round's alerts (1, 2, 20, 30 h: each within 24 h of the one before), then a
 * 30 h gap opens new alerts (60 h) that fold again (61 h), and 200 h opens a third set.
 */
export const ROUND_OFFSETS_H = [0, 1, 2, 20, 30, 60, 61, 200];

/**
 * The workload of the `arcsim detect` alert-rows test (detect-alerts.test.ts): the shipped rules
 * and the pinned SigmaHQ sample, over the Atomic fixtures (played as `arcsim coverage` plays them,
 * each test on a simulated host of its platform) and the recorded SigmaHQ regression events
 * (evtx-json), each event three times a second apart, in rounds on the same hosts, each event
 * with its own ReportId.
 */
export function detectAlertsWorkload(): { rules: RuleSet; events: SensorEvent[]; deviceOs: Map<string, string> } {
  const rules = reportRulesDirs([DEFAULT_RULES_DIR, join(FIXTURES, 'sigmahq')]).set;
  const played = [playAtomics(join(FIXTURES, 'atomic')), playAtomics(join(FIXTURES, 'atomic-real'))];
  const deviceOs = new Map(played.flatMap((p) => [...p.byDevice].map(([d, t]) => [d, t.platform ?? ''] as [string, string])));
  const recorded = readdirSync(join(FIXTURES, 'recorded')).filter((f) => f.endsWith('.json')).sort()
    .flatMap((f) => readRecordedEvents(readFileSync(join(FIXTURES, 'recorded', f), 'utf8'), 'evtx-json', f).events);
  const base = [...played.flatMap((p) => p.events), ...recorded];
  const start = Date.UTC(2026, 0, 1);
  const first = Math.min(...base.map((e) => Date.parse(e.Timestamp)));
  const events: SensorEvent[] = [];
  let n = 0;
  ROUND_OFFSETS_H.forEach((h) => {
    base.forEach((e) => {
      // Each event three times, a second apart: occurrences of one alert within one batch.
      for (let copy = 0; copy < 3; copy++) {
        events.push({
          ...e,
          Timestamp: new Date(start + h * HOUR + copy * 1000 + (Date.parse(e.Timestamp) - first)).toISOString(),
          ReportId: `0190a000-0000-7000-8000-${(n++).toString(16).padStart(12, '0')}`,
        });
      }
    });
  });
  return { rules, events, deviceOs };
}
