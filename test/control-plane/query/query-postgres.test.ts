import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresStore } from '../../../control-plane/index.ts';
import { queryStore } from '../../../control-plane/query/index.ts';
import { startTestPostgres } from '../../support/postgres.ts';
import { fillQueryLab, LAB_NOW, SEED_QUERY_FIXED } from '../../support/query-lab.ts';

const postgres = await startTestPostgres();
after(() => postgres.pg?.stop());

// The same lab and answers as query-api.test.ts (SQLite), on a PostgreSQL store: the pushdown's
// SQL (time range, JSON equality, ILIKE first pass) must give the same rows on both dialects.
test('KQL on a PostgreSQL store: the pushdown query and the seed query give the SQLite answers', { skip: postgres.skip }, async (t) => {
  const store = await openPostgresStore({ connectionString: await postgres.pg!.createDatabase() });
  t.after(() => store.close());
  await fillQueryLab(store);
  const deps = { store, baseUrl: () => 'http://lab', now: () => new Date(LAB_NOW) };
  const r = await queryStore('DeviceProcessEvents | where Timestamp > ago(1d) | where ProcessCommandLine has "powershell" | summarize count() by DeviceName', deps);
  assert.deepEqual(r.rows, [{ DeviceName: 'web-01', count_: 1 }]);
  const logons = await queryStore('DeviceLogonEvents | where DeviceName == "web-01" and ActionType in ("LogonFailed") | summarize n=count() by AccountName | order by AccountName asc', deps);
  assert.deepEqual(logons.rows, [{ AccountName: 'admin', n: 1 }, { AccountName: 'root', n: 1 }]);
  const seed = await queryStore(SEED_QUERY_FIXED, deps);
  assert.deepEqual(seed.rows.map((row) => row.name), ['alert-a-high', 'alert-b-high', 'alert-c-medium']);
});
