import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { apiKeyFor, cleanup, keyedFetch, startControlPlane } from '../../helpers.ts';
import { fillQueryLab, LAB_NOW, SEED_QUERY_FIXED, SEED_QUERY_FLAWED } from '../../support/query-lab.ts';
import { openSqliteStore } from '../../../control-plane/index.ts';
import { queryStore } from '../../../control-plane/query/index.ts';
import { QueryError } from '../../../control-plane/query/errors.ts';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'arcsim.js');
const fixedClock = { now: () => LAB_NOW };

function arcsim(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = ''; let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// The seed's expectation (issue 14): the active Medium/High MDC alerts, High first, then by
// SystemAlertId, with the five columns the projection names (ARG names `a.b` as `a_b`).
const SEED_COLUMNS = ['name', 'properties_Severity', 'properties_AlertDisplayName', 'properties_TimeGeneratedUtc', 'properties_ProductName'];
const SEED_NAMES = ['alert-a-high', 'alert-b-high', 'alert-c-medium'];

test('POST /api/advancedqueries/run: the seed query with a reader key, 401 without one, both flaws of the quoted form with positions', async (t) => {
  const env = await startControlPlane({ clock: fixedClock });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  await fillQueryLab(env.store);
  const reader = keyedFetch(await apiKeyFor(env, 'reader'));
  const post = (f: typeof fetch, Query: string) => f(`${env.url}/api/advancedqueries/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Query }) });

  const res = await post(reader, SEED_QUERY_FIXED);
  assert.equal(res.status, 200);
  const body = await res.json() as { Schema: Array<{ Name: string; Type: string }>; Results: Array<Record<string, unknown>>; Stats: { Truncated: boolean } };
  assert.deepEqual(body.Schema.map((c) => c.Name), SEED_COLUMNS);
  assert.deepEqual(body.Results.map((r) => r.name), SEED_NAMES);
  assert.deepEqual(body.Results.map((r) => r.properties_Severity), ['High', 'High', 'Medium']);
  assert.equal(body.Results[0]!.properties_AlertDisplayName, 'Fileless attack technique detected');
  assert.equal(body.Stats.Truncated, false);

  const anonymous = await post(fetch, SEED_QUERY_FIXED);
  assert.equal(anonymous.status, 401);
  assert.equal((await anonymous.json() as { code: string }).code, 'ARCSIM_E_UNAUTHORIZED');

  const flawed = await post(reader, SEED_QUERY_FLAWED);
  assert.equal(flawed.status, 400);
  const err = await flawed.json() as { code: string; errors: Array<{ line: number; column: number; code: string }> };
  assert.equal(err.code, 'ARCSIM_E_QUERY');
  // Flaw 1: the `|` at line 1, column 1 has no table before it. Flaw 2: `case(` is still open
  // where line 6 ends (after `properties.Severity == 'Medium', 2,`, column 40).
  assert.deepEqual(err.errors[0], { ...err.errors[0], line: 1, column: 1, code: 'ARCSIM_NO_TABLE' });
  assert.ok(err.errors.some((e) => e.line === 6 && e.column === 40 && e.code === 'KS005'), JSON.stringify(err.errors));

  // An unknown table and an unsupported operator are named, with their place.
  const unknown = await (await post(reader, 'EmailEvents\n| take 1')).json() as { errors: Array<{ line: number; column: number; message: string }> };
  assert.match(unknown.errors[0]!.message, /unknown table or name 'EmailEvents'/);
  const unsupported = await (await post(reader, 'DeviceProcessEvents\n| make-series n=count() on Timestamp step 1h')).json() as { errors: Array<{ line: number; column: number; message: string }> };
  assert.deepEqual([unsupported.errors[0]!.line, unsupported.errors[0]!.column], [2, 3]);
  assert.match(unsupported.errors[0]!.message, /make-series operator is not supported/);
  // Microsoft Graph's shape of the same: {schema: [{name, type}], results}.
  const graph = await reader(`${env.url}/v1.0/security/runHuntingQuery`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Query: SEED_QUERY_FIXED }) });
  assert.equal(graph.status, 200);
  const g = await graph.json() as { schema: Array<{ name: string; type: string }>; results: Array<Record<string, unknown>> };
  assert.deepEqual(g.schema.map((c) => c.name), SEED_COLUMNS);
  assert.deepEqual(g.results.map((r) => r.name), SEED_NAMES);
  assert.equal((await fetch(`${env.url}/v1.0/security/runHuntingQuery`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Query: 'print 1' }) })).status, 401);
  // A query only reads: it is not in the audit log of writes.
  assert.deepEqual((await env.store.keys.listAudit({ limit: 100 })).filter((a) => /advancedqueries|runHuntingQuery/.test(a.route)), []);
});

test('arcsim query: a table by default, --csv, and a flawed query printed with line:column and a caret', async (t) => {
  const env = await startControlPlane({ clock: fixedClock });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  await fillQueryLab(env.store);
  const cli = { ARCSIM_CONTROL_PLANE: env.url, ARCSIM_ADMIN_KEY: (await env.cp.ensureAdminKey({ reset: true }))! };

  const ok = await arcsim(['query', SEED_QUERY_FIXED], cli);
  assert.equal(ok.code, 0, ok.stderr);
  const lines = ok.stdout.trim().split('\n');
  assert.match(lines[0]!, /^name\s+properties_Severity\s+properties_AlertDisplayName/);
  assert.deepEqual(lines.slice(-3).map((l) => l.split(/\s+/)[0]), SEED_NAMES);

  const csv = await arcsim(['query', '--csv', 'DeviceLogonEvents | where ActionType == "LogonFailed" | summarize Failures=count() by RemoteIP'], cli);
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal(csv.stdout, 'RemoteIP,Failures\n198.51.100.7,2\n');

  const viaArg = await arcsim(['query', '--api', 'arg', '--csv', SEED_QUERY_FIXED], cli);
  assert.equal(viaArg.code, 0, viaArg.stderr);
  assert.deepEqual(viaArg.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0]), SEED_NAMES);
  const viaLa = await arcsim(['query', '--api', 'log-analytics', '--timespan', 'PT90M', '--json', 'SecurityAlert | summarize n=count()'], cli);
  assert.equal(viaLa.code, 0, viaLa.stderr);
  assert.deepEqual(JSON.parse(viaLa.stdout).tables[0].rows, [[2]], 'two alerts in the last 90 minutes');

  const bad = await arcsim(['query', SEED_QUERY_FLAWED], cli);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^1:1: the query starts with `\|`/m);
  assert.match(bad.stderr, /^ {2}\^$/m, 'a caret under column 1');
  assert.match(bad.stderr, /^6:40: Expected: \) \(KS005\)$/m);
  assert.match(bad.stderr, new RegExp(`^ {2}${' '.repeat(39)}\\^$`, 'm'), 'a caret under line 6, column 40');
  assert.match(bad.stderr, /arcsim: ARCSIM_E_QUERY/);
});

test('pushdown: the leading wheres on Timestamp, DeviceName and ActionType reach the SQL scan; results are the same as without', async (t) => {
  const store = openSqliteStore({ file: ':memory:' });
  t.after(() => store.close());
  await fillQueryLab(store);
  const deps = { store, baseUrl: () => 'http://lab', now: () => new Date(LAB_NOW) };
  // The speed query. By hand: web-01 has two PowerShell command lines, at 2 h and 30 h
  // ago; only the first is within 1 day. db-01 has none.
  const q = 'DeviceProcessEvents | where Timestamp > ago(1d) | where ProcessCommandLine has "powershell" | summarize count() by DeviceName';
  const r = await queryStore(q, deps);
  assert.deepEqual(r.rows, [{ DeviceName: 'web-01', count_: 1 }]);
  assert.deepEqual(r.scans[0]!.pushdown.map((p) => [p.column, p.op]), [['Timestamp', '>'], ['ProcessCommandLine', 'has']]);
  const scanned = await store.events.scanEvents({ table: 'DeviceProcessEvents', from: LAB_NOW - 86_400_000, limit: 100 });
  assert.equal(scanned.length, 3, 'three process events in the last day (two on web-01, one on db-01)');
  const byName = await store.events.scanEvents({ table: 'DeviceProcessEvents', equals: [{ column: 'DeviceName', values: ['db-01'] }, { column: 'ActionType', values: ['ProcessCreated'] }], limit: 100 });
  assert.deepEqual(byName.map((e) => e.DeviceName), ['db-01']);
  const byDevice = await store.events.scanEvents({ table: 'DeviceLogonEvents', equals: [{ column: 'DeviceId', values: ['agent-web'] }], limit: 100 });
  assert.equal(byDevice.length, 3);

  // A scan cap below the table's size flags the result truncated.
  const capped = await queryStore('DeviceProcessEvents | count', { ...deps, limits: { maxScanRows: 2 } });
  assert.deepEqual([capped.rows[0]!.Count, capped.truncated], [2, true]);
  // The row cap: 4 process events, cap 3.
  const cut = await queryStore('DeviceProcessEvents | project DeviceName', { ...deps, limits: { maxRows: 3 } });
  assert.deepEqual([cut.rows.length, cut.truncated], [3, true]);
  // The timeout is an ARCSIM_E_QUERY naming it.
  await assert.rejects(queryStore('range x from 1 to 100000000 step 1 | count', { ...deps, limits: { timeoutMs: 1 } }),
    (e: unknown) => e instanceof QueryError && /timeout/.test(e.errors[0]!.message));
});

test('the lab tables: hand-worked answers over events, alerts and incidents', async (t) => {
  const store = openSqliteStore({ file: ':memory:' });
  t.after(() => store.close());
  await fillQueryLab(store);
  const run = async (q: string) => (await queryStore(q, { store, baseUrl: () => 'http://lab', now: () => new Date(LAB_NOW) })).rows;
  // Brute force then success from one IP (a common hunting pattern): 198.51.100.7 failed twice, then alice logged on.
  assert.deepEqual(await run(`DeviceLogonEvents
    | summarize Failed=countif(ActionType == "LogonFailed"), Succeeded=countif(ActionType == "LogonSuccess"), Accounts=array_sort_asc(make_set(AccountName)) by RemoteIP
    | where Failed > 1 and Succeeded > 0`), [{ RemoteIP: '198.51.100.7', Failed: 2, Succeeded: 1, Accounts: ['admin', 'alice', 'root'] }]);
  // A process and a network connection to the same IP, joined by device (the curl | sh on db-01 has no network event).
  assert.deepEqual(await run(`DeviceNetworkEvents | where RemoteIP == "203.0.113.9"
    | join kind=inner (DeviceProcessEvents | where FileName =~ "powershell.exe" | project DeviceId, ProcessCommandLine) on DeviceId
    | project DeviceName, RemoteUrl, ProcessCommandLine | order by ProcessCommandLine asc`), [
    { DeviceName: 'web-01', RemoteUrl: 'evil.example.com', ProcessCommandLine: 'PowerShell.exe -c Get-Process' },
    { DeviceName: 'web-01', RemoteUrl: 'evil.example.com', ProcessCommandLine: 'powershell.exe -NoProfile -EncodedCommand SQBFAFgA' },
  ]);
  assert.deepEqual(await run('DeviceInfo | extend User = tostring(LoggedOnUsers[0].UserName) | project DeviceName, OSPlatform, User | order by DeviceName asc'), [
    { DeviceName: 'db-01', OSPlatform: 'Linux', User: '' }, { DeviceName: 'web-01', OSPlatform: 'Windows11', User: 'alice' },
  ]);
  assert.deepEqual(await run('AlertInfo | summarize n=count() by Severity | order by Severity asc'), [{ Severity: 'High', n: 3 }, { Severity: 'Low', n: 1 }, { Severity: 'Medium', n: 1 }]);
  assert.deepEqual(await run('SecurityIncident | mv-expand AlertIds to typeof(string) | project IncidentName, AlertIds, Status'), [
    { IncidentName: 'inc-1', AlertIds: 'alert-b-high', Status: 'New' }, { IncidentName: 'inc-1', AlertIds: 'alert-c-medium', Status: 'New' },
  ]);
  assert.deepEqual(await run("SecurityAlert | where Status == 'Dismissed' | project SystemAlertId, AlertSeverity"), [{ SystemAlertId: 'alert-e-dismissed', AlertSeverity: 'High' }]);
});

test('Azure Resource Graph and Log Analytics shapes: the seed query over ARG with paging; SecurityAlert over Log Analytics with a timespan', async (t) => {
  const env = await startControlPlane({ clock: fixedClock });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  await fillQueryLab(env.store);
  const reader = keyedFetch(await apiKeyFor(env, 'reader'));
  const arg = (body: unknown) => reader(`${env.url}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const all = await (await arg({ subscriptions: ['sub-lab'], query: SEED_QUERY_FIXED })).json() as Record<string, any>;
  assert.deepEqual([all.totalRecords, all.count, all.resultTruncated, all.$skipToken], [3, 3, 'false', undefined]);
  assert.deepEqual(all.data.map((r: Record<string, unknown>) => r.name), SEED_NAMES);
  // Two rows a page: the first page hands a $skipToken that gives the third row.
  const first = await (await arg({ query: SEED_QUERY_FIXED, options: { $top: 2 } })).json() as Record<string, any>;
  assert.deepEqual([first.count, first.data.map((r: Record<string, unknown>) => r.name)], [2, SEED_NAMES.slice(0, 2)]);
  const second = await (await arg({ query: SEED_QUERY_FIXED, options: { $top: 2, $skipToken: first.$skipToken } })).json() as Record<string, any>;
  assert.deepEqual([second.count, second.data.map((r: Record<string, unknown>) => r.name), second.$skipToken], [1, SEED_NAMES.slice(2), undefined]);
  const table = await (await arg({ query: SEED_QUERY_FIXED, options: { resultFormat: 'table' } })).json() as Record<string, any>;
  assert.deepEqual(table.data.columns.map((c: { name: string }) => c.name), SEED_COLUMNS);
  assert.equal(table.data.rows[2][0], 'alert-c-medium');
  // Resource Graph has no device tables.
  const noDevice = await arg({ query: 'DeviceProcessEvents | take 1' });
  assert.equal(noDevice.status, 400);
  assert.equal((await noDevice.json() as { code: string }).code, 'ARCSIM_E_QUERY');
  assert.equal((await fetch(`${env.url}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"resources"}' })).status, 401);

  const la = (body: unknown) => reader(`${env.url}/v1/workspaces/ws-lab/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const q = 'SecurityAlert | order by TimeGenerated asc | project SystemAlertId, AlertSeverity, TimeGenerated';
  const whole = await (await la({ query: q })).json() as { tables: Array<{ name: string; columns: Array<{ name: string; type: string }>; rows: unknown[][] }> };
  assert.equal(whole.tables[0]!.name, 'PrimaryResult');
  assert.deepEqual(whole.tables[0]!.columns, [{ name: 'SystemAlertId', type: 'string' }, { name: 'AlertSeverity', type: 'string' }, { name: 'TimeGenerated', type: 'datetime' }]);
  assert.equal(whole.tables[0]!.rows.length, 5);
  // The lab's alerts were generated 4, 3, 2, 1 and 1 hours before now: PT90M keeps the last two.
  const recent = await (await la({ query: q, timespan: 'PT90M' })).json() as typeof whole;
  assert.deepEqual(recent.tables[0]!.rows.map((r) => r[0]).sort(), ['alert-d-low', 'alert-e-dismissed']);
  assert.equal((await la({ query: q, timespan: 'yesterday' })).status, 400);
});
