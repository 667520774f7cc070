import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_AREAS, ERRORS, type ErrorArea } from '../../protocol/errors.ts';

/** docs/errors.md has one section per area, its heading ending in `(area: NAME)`. */
function documentedCodes(): Map<string, { area: string; status: number; close: number | null }> {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, { area: string; status: number; close: number | null }>();
  let area = '';
  for (const line of doc.split('\n')) {
    const heading = /^## .*\(area: (\w+)\)$/.exec(line);
    if (heading) area = heading[1]!;
    const m = /^\| `(ARCSIM_E_[A-Z0-9_]+)` \| (\d+) \| (\d+|—) \|/.exec(line);
    if (!m) continue;
    assert.ok(!rows.has(m[1]!), `${m[1]} is documented twice`);
    rows.set(m[1]!, { area, status: Number(m[2]), close: m[3] === '—' ? null : Number(m[3]) });
  }
  return rows;
}

test('docs/errors.md lists exactly the catalogued codes, each in its area with its HTTP status and close code', () => {
  const rows = documentedCodes();
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERRORS).sort());
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.deepEqual(rows.get(code), { area: spec.area, status: spec.status, close: spec.closeCode }, code);
  }
});

test('each area has a section in docs/errors.md and codes of an area share its prefix', () => {
  const areas = new Set([...documentedCodes().values()].map((r) => r.area));
  assert.deepEqual([...areas].sort(), [...ERROR_AREAS].sort());
  // Areas whose codes carry their name, so a code cannot land in the wrong area unnoticed.
  const prefixes: Partial<Record<ErrorArea, string>> = { rule: 'ARCSIM_E_RULE_', scenario: 'ARCSIM_E_SCENARIO_', suite: 'ARCSIM_E_SUITE_' };
  for (const [code, spec] of Object.entries(ERRORS)) {
    const prefix = prefixes[spec.area];
    if (prefix) assert.ok(code.startsWith(prefix), `${code} is in area ${spec.area}`);
    for (const [area, p] of Object.entries(prefixes)) if (area !== spec.area) assert.ok(!code.startsWith(p), `${code} belongs to area ${area}`);
  }
});
