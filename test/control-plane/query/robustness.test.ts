import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '../../../control-plane/index.ts';
import { queryStore, QueryError } from '../../../control-plane/query/index.ts';
import { fillQueryLab, LAB_NOW } from '../../support/query-lab.ts';
import { seededRandom } from '../../../lib/random.ts';

/**
 * Bad input gets ARCSIM_E_QUERY, never another fault: every hunting query of the sample cut at
 * random places, with random characters dropped or doubled, and a few hostile shapes (deep
 * nesting, a join that multiplies rows).
 */
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'hunting', 'm365d-hunting-queries.json'), 'utf8')) as { queries: Array<{ query: string }> };

test('mangled hunting queries and hostile shapes: a result or an ARCSIM_E_QUERY, nothing else', async (t) => {
  const store = openSqliteStore({ file: ':memory:' });
  t.after(() => store.close());
  await fillQueryLab(store);
  const random = seededRandom(14);
  const rand = () => random.next();
  const deps = { store, baseUrl: () => 'http://lab', now: () => new Date(LAB_NOW), limits: { timeoutMs: 5_000 } };
  const attempt = async (q: string) => {
    try {
      await queryStore(q, deps);
      return 'ran';
    } catch (err) {
      assert.ok(err instanceof QueryError, `not an ARCSIM_E_QUERY for ${JSON.stringify(q.slice(0, 200))}: ${(err as Error).stack}`);
      assert.equal(err.code, 'ARCSIM_E_QUERY');
      for (const e of err.errors) assert.ok(e.line >= 1 && e.column >= 1);
      return 'refused';
    }
  };
  let refused = 0;
  for (const { query } of fixture.queries) {
    for (let k = 0; k < 3; k++) {
      const at = Math.floor(rand() * query.length);
      const mangled = k === 0 ? query.slice(0, at) : k === 1 ? query.slice(0, at) + query.slice(at + 1) : query.slice(0, at) + query[at] + query.slice(at);
      if ((await attempt(mangled)) === 'refused') refused++;
    }
  }
  assert.ok(refused > 0, 'some mangled queries are refused');
  assert.equal(await attempt(`print x = ${'('.repeat(5000)}1${')'.repeat(5000)}`), 'refused');
  // A regular expression that backtracks exponentially in JavaScript's default engine (about 2^32
  // steps here) ends at once: Kusto's RE2 is linear, and so is the engine arcsim falls back to.
  const started = performance.now();
  assert.equal(await attempt(`print v = "${'a'.repeat(32)}b" matches regex "^(a+)+$"`), 'ran');
  assert.ok(performance.now() - started < 2_000, `took ${performance.now() - started} ms`);
  const blowUp = await queryStore('range a from 1 to 2000 step 1 | extend k = 1 | join kind=inner (range b from 1 to 2000 step 1 | extend k = 1) on k | count', deps)
    .then(() => undefined, (e: unknown) => e);
  assert.ok(blowUp instanceof QueryError && /produces more than 2,000,000 rows/.test(blowUp.errors[0]!.message), String(blowUp));
});
