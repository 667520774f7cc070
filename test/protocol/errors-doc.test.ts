import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROTOCOL_ERRORS, type ErrorSpec } from '../../protocol/errors.ts';
import { RULE_ERRORS } from '../../control-plane/detection/errors.ts';
import { SCENARIO_ERRORS } from '../../scenarios/errors.ts';
import { INVENTORY_ERRORS } from '../../control-plane/inventory/errors.ts';
import { SUITE_ERRORS } from '../../testruns/errors.ts';

test('docs/errors.md lists exactly the catalogued codes, with their HTTP status and close code', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, { status: number; close: number | null }>();
  for (const m of doc.matchAll(/^\| `(ARCSIM_E_[A-Z0-9_]+)` \| (\d+) \| (\d+|—) \|/gm)) {
    assert.ok(!rows.has(m[1]!), `${m[1]} is documented twice`);
    rows.set(m[1]!, { status: Number(m[2]), close: m[3] === '—' ? null : Number(m[3]) });
  }
  const catalogues = [PROTOCOL_ERRORS, RULE_ERRORS, SCENARIO_ERRORS, INVENTORY_ERRORS, SUITE_ERRORS];
  const catalogue: Record<string, ErrorSpec> = Object.assign({}, ...catalogues);
  const total = catalogues.reduce((n, c) => n + Object.keys(c).length, 0);
  assert.equal(Object.keys(catalogue).length, total, 'no code is defined in two catalogues');
  assert.deepEqual([...rows.keys()].sort(), Object.keys(catalogue).sort());
  for (const [code, spec] of Object.entries(catalogue)) {
    assert.deepEqual(rows.get(code), { status: spec.status, close: spec.closeCode }, code);
  }
});
