import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { request } from 'node:https';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';
import { writeTestPki } from '../support/https.ts';
import { SEED_QUERY_FIXED } from '../support/query-lab.ts';

/*
 * Issue 14, acceptance: "The four client libraries work against a running lab in tests." Microsoft's
 * own clients from npm (@azure/monitor-query-logs, @azure/arm-resourcegraph,
 * @microsoft/microsoft-graph-client, @azure/arm-security) run in a child process
 * (test/support/ms-clients.ts) that trusts the lab's CA through NODE_EXTRA_CA_CERTS, with the lab
 * as their endpoint and an arcsim key as a static bearer token. Expected values come from arcsim's
 * own REST API (/api/alerts), an independent view of the same alerts.
 */

const library = loadLibrary();
const ROOT = join(import.meta.dirname, '..', '..');

/** Runs one client step (test/support/ms-clients.ts) in a child process that trusts `caFile`. */
function runClient(step: string, args: Record<string, unknown>, home: string, caFile: string): Promise<{ out: Step; connections: string[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/ms-clients.ts'), step, JSON.stringify(args)], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: home, NODE_EXTRA_CA_CERTS: caFile }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout.trim().split('\n');
      try {
        resolve({ out: JSON.parse(lines[0] ?? '') as Step, connections: (JSON.parse(lines[1] ?? '') as { connections: string[] }).connections });
      } catch (err) {
        reject(new Error(`${step}: exit ${code}: ${(err as Error).message}\n${stdout}\n${stderr}`));
      }
    });
  });
}

type Step = { result?: any; error?: { name?: string; message?: string; code?: string; statusCode?: number; details?: any } };

/** An https call trusting only the lab CA (the test process's own reference view). */
function httpsCall(url: string, method: string, key: string, ca: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    request(url, { method, ca, headers: { authorization: `Bearer ${key}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

/**
 * A lab with alerts in every product's view: agents send scenario events over plain http (the
 * test helpers' way), then the same store is served again over TLS with a lab CA, as
 * `arcsim tls init` sets it up, for the clients.
 */
async function lab(t: { after(fn: () => unknown): void }) {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const seeding = await startControlPlane({ dir, config: { sync: { profile: 'xdr-unified' } } });
  const token = await seeding.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1', location: 'westeurope' });
  let seed = 0;
  for (const [name, slugs] of [['web-01', ['ssh-brute-force-failed', 'suspicious-powershell-encoded', 'ssh-brute-force-success']], ['db-01', ['sql-injection']]] as const) {
    const creds = await enroll(seeding.url, token.token, name);
    const a = await RawAgent.connect(seeding.url, creds);
    await a.register({ ...TEST_FACTS, hostname: name });
    let seq = 0;
    for (const slug of slugs) {
      const events = planEvents(library.get(slug)!, { detonationId: `${name}-${slug}`, device: { id: creds.agentId, name }, startTime: Date.now() - 60_000, seed: ++seed }).map((p) => p.event);
      a.send({ v: 1, type: 'events', seq: ++seq, events });
      await a.next('ack');
    }
    a.close();
  }
  const reader = await apiKeyFor(seeding, 'reader');
  const responder = await apiKeyFor(seeding, 'responder');
  await seeding.close();

  const pki = writeTestPki(join(dir, 'tls'));
  const env = await startControlPlane({ dir, config: { tls: { cert: pki.files.cert, key: pki.files.key }, sync: { profile: 'xdr-unified' } } });
  t.after(() => env.close());
  assert.match(env.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const call = (method: string, path: string, key = reader) => httpsCall(`${env.url}${path}`, method, key, pki.caPem);
  const mdc = (await call('GET', '/api/alerts')).body.value as Array<Record<string, any>>;
  assert.ok(mdc.length >= 4, `alerts: ${mdc.length}`);

  /** One client step against the lab; fails unless the only host the child reached is 127.0.0.1. */
  const client = async (step: string, args: Record<string, unknown>): Promise<Step> => {
    const r = await runClient(step, { url: env.url, ...args }, dir, pki.files.ca);
    assert.deepEqual([...new Set(r.connections)], ['127.0.0.1'], `${step}: connections attempted: ${r.connections.join(', ')}`);
    return r.out;
  };
  return { env, reader, responder, call, mdc, client };
}

const RANK: Record<string, number> = { High: 3, Medium: 2, Low: 1 };

test('@azure/arm-resourcegraph runs the seed query over securityresources and gets the active Medium/High MDC alerts, High first', async (t) => {
  const { reader, mdc, client } = await lab(t);
  // The reference: MDC's own REST view, filtered and ordered as the seed query says.
  const expected = mdc
    .filter((a) => a.properties.status === 'Active' && ['Medium', 'High'].includes(a.properties.severity))
    .sort((a, b) => RANK[b.properties.severity]! - RANK[a.properties.severity]! || (a.properties.systemAlertId < b.properties.systemAlertId ? -1 : 1));
  assert.ok(expected.length >= 2, 'the lab has active Medium/High alerts');
  const out = await client('resource-graph', { key: reader, query: SEED_QUERY_FIXED });
  assert.equal(out.error, undefined, JSON.stringify(out.error));
  const r = out.result;
  assert.equal(r.totalRecords, expected.length);
  assert.equal(r.count, expected.length);
  assert.equal(r.resultTruncated, 'false');
  assert.deepEqual(Object.keys(r.data[0]), ['name', 'properties_Severity', 'properties_AlertDisplayName', 'properties_TimeGeneratedUtc', 'properties_ProductName']);
  assert.deepEqual(r.data.map((row: any) => row.name), expected.map((a) => a.name));
  assert.deepEqual(r.data.map((row: any) => row.properties_Severity), expected.map((a) => a.properties.severity));
  assert.deepEqual(r.data.map((row: any) => row.properties_AlertDisplayName), expected.map((a) => a.properties.alertDisplayName));
});

test('@azure/arm-resourcegraph surfaces a bad query as a RestError carrying ARCSIM_E_QUERY', async (t) => {
  const { reader, client } = await lab(t);
  const out = await client('resource-graph', { key: reader, query: '| where type == 1' });
  assert.equal(out.result, undefined);
  assert.equal(out.error?.name, 'RestError');
  assert.equal(out.error?.statusCode, 400);
  assert.equal(out.error?.code, 'ARCSIM_E_QUERY');
});

test('@azure/monitor-query-logs runs a Log Analytics query (LogsQueryClient.queryWorkspace) and gets the rows', async (t) => {
  const { reader, mdc, client } = await lab(t);
  const out = await client('log-analytics', {
    key: reader, workspace: 'lab-workspace', duration: 'P1D',
    query: 'SecurityAlert\n| project SystemAlertId, AlertSeverity, TimeGenerated\n| order by SystemAlertId asc',
  });
  assert.equal(out.error, undefined, JSON.stringify(out.error));
  assert.equal(out.result.status, 'Success');
  const [table] = out.result.tables;
  assert.equal(table.name, 'PrimaryResult');
  assert.deepEqual(table.columns.map((c: any) => c.name), ['SystemAlertId', 'AlertSeverity', 'TimeGenerated']);
  const sorted = [...mdc].sort((a, b) => (a.properties.systemAlertId < b.properties.systemAlertId ? -1 : 1));
  assert.deepEqual(table.rows.map((r: any[]) => r[0]), sorted.map((a) => a.properties.systemAlertId));
  assert.deepEqual(table.rows.map((r: any[]) => r[1]), sorted.map((a) => a.properties.severity));
  // The client converts datetime columns to Date (serialized here as ISO text).
  for (const r of table.rows) assert.match(String(r[2]), /^\d{4}-\d\d-\d\dT/);

  const bad = await client('log-analytics', { key: reader, workspace: 'lab-workspace', query: 'SecurityAlert\n| take 1\n| where NoSuchColumn == 1' });
  assert.equal(bad.error?.name, 'RestError', JSON.stringify(bad));
  assert.equal(bad.error?.statusCode, 400);
  assert.equal(bad.error?.code, 'ARCSIM_E_QUERY');
  // The client's own error details (Log Analytics' ErrorInfo) name the finding and where it is.
  const finding = bad.error?.details?.error?.details?.[0];
  assert.equal(finding?.target, 'line 3, column 9', JSON.stringify(bad.error?.details));
  assert.match(String(finding?.message), /NoSuchColumn/);
});

test('@microsoft/microsoft-graph-client lists /security/alerts_v2 across @odata.nextLink pages and PATCHes a status', async (t) => {
  const { reader, responder, call, mdc, client } = await lab(t);
  const target = mdc[0]!;
  const xdr = (await call('GET', '/v1.0/security/alerts_v2')).body.value.find((a: any) => a.providerAlertId === target.name);
  assert.ok(xdr, 'the alert is in Graph');
  const out = await client('graph', {
    key: reader, top: 1, patch: { key: responder, id: xdr.id, body: { status: 'inProgress', classification: 'truePositive', determination: 'malware' } },
    badFilter: "nosuchproperty eq 'x'",
  });
  assert.equal(out.error, undefined, JSON.stringify(out.error));
  // One alert a page: the client followed every nextLink.
  assert.deepEqual(out.result.listed.map((a: any) => a.providerAlertId).sort(), mdc.map((a) => a.name).sort());
  assert.equal(out.result.patched.status, 'inProgress');
  assert.equal(out.result.patched.classification, 'truePositive');
  const after = await call('GET', `/v1.0/security/alerts_v2/${xdr.id}`);
  assert.equal(after.body.status, 'inProgress');
  assert.equal(after.body.determination, 'malware');
  // A filter Graph does not allow: the client's GraphError carries the arcsim code and the status.
  assert.equal(out.result.failed?.statusCode, 400, JSON.stringify(out.result.failed));
  assert.equal(out.result.failed?.code, 'ARCSIM_E_VALIDATION');
});

test('@azure/arm-security lists MDC alerts and dismisses one; arcsim then shows it Dismissed', async (t) => {
  const { reader, responder, call, client } = await lab(t);
  // The reference: arcsim's MDC view (/api/alerts?product=MDC: name = the alert's SystemAlertId) and
  // the ARM list as arcsim serves it to plain HTTP (for the MDC alert names and locations).
  const mdc = (await call('GET', '/api/alerts?product=MDC')).body.value as Array<Record<string, any>>;
  const arm = (await call('GET', '/subscriptions/sub-1/providers/Microsoft.Security/alerts?api-version=2022-01-01')).body.value as Array<Record<string, any>>;
  const target = arm.find((a) => a.properties.status === 'Active')!;
  const location = target.id.split('/locations/')[1]!.split('/')[0]!;
  const out = await client('security', { key: reader, subscription: 'sub-1', dismiss: { key: responder, location, name: target.name } });
  assert.equal(out.error, undefined, JSON.stringify(out.error));
  assert.deepEqual(out.result.listed.map((a: any) => a.systemAlertId).sort(), mdc.map((a) => a.name).sort());
  const one = out.result.listed.find((a: any) => a.name === target.name);
  const ref = mdc.find((a) => a.name === target.properties.systemAlertId)!;
  assert.equal(one.id, target.id);
  assert.equal(one.severity, ref.properties.severity, 'the SDK flattens properties');
  assert.equal(one.alertDisplayName, ref.properties.alertDisplayName);
  assert.equal(one.status, 'Active');
  assert.equal(out.result.dismissed, target.name);
  const after = (await call('GET', '/api/alerts?product=MDC')).body.value.find((a: any) => a.name === ref.name);
  assert.equal(after.properties.status, 'Dismissed', JSON.stringify(after.properties));

  // A reader key may not dismiss: the SDK's RestError carries ARCSIM_E_FORBIDDEN.
  const other = arm.find((a) => a.name !== target.name && a.properties.status === 'Active')!;
  const denied = await client('security', { key: reader, subscription: 'sub-1', dismiss: { key: reader, location, name: other.name } });
  assert.equal(denied.error?.name, 'RestError', JSON.stringify(denied));
  assert.equal(denied.error?.statusCode, 403);
  assert.equal(denied.error?.code, 'ARCSIM_E_FORBIDDEN');
});

test('the child\'s guard refuses a non-loopback host at once: a client pointed at Azure fails loudly, it does not hang', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const pki = writeTestPki(join(dir, 'tls'));
  const started = performance.now();
  const r = await runClient('resource-graph', { url: 'https://management.azure.com', key: 'k', query: 'resources | take 1' }, dir, pki.files.ca);
  assert.equal(r.out.result, undefined);
  assert.match(String(r.out.error?.message), /non-loopback connection refused by the test guard: management\.azure\.com/);
  assert.deepEqual(r.connections, ['management.azure.com']);
  assert.ok(performance.now() - started < 30_000, 'no hang on DNS or a connect timeout');
});
