import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiKeyFor, cleanup, startControlPlane, type TestControlPlane } from '../../helpers.ts';
import { RECOMMENDATIONS } from '../../../control-plane/inventory/index.ts';

/**
 * Issue 15, page time: the inventory, recommendations and runs pages read one page from SQL (not
 * every row, paged in memory). Through the pages a signed-in reader gets, on a real SQLite store:
 * the captions count every match, a page holds 50 rows, the last page the rest, in the list's order.
 */
const T0 = Date.UTC(2026, 5, 1);

async function portal(t: { after(fn: () => unknown): void }): Promise<{ env: TestControlPlane; get(path: string): Promise<string> }> {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const res = await fetch(`${env.url}/portal/login`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ key: await apiKeyFor(env, 'reader') }),
  });
  assert.equal(res.status, 303);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  return {
    env,
    async get(path: string) {
      const r = await fetch(`${env.url}${path}`, { headers: { cookie } });
      assert.equal(r.status, 200, path);
      return r.text();
    },
  };
}

const all = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1]!);

test('runs: 55 stored, a page of 50 newest first, then the last 5; the caption counts them all', async (t) => {
  const { env, get } = await portal(t);
  for (let i = 0; i < 55; i++) {
    const id = `run-${String(i).padStart(2, '0')}`;
    const at = T0 + i * 60_000;
    const summary = { cells: 2, pass: 1, fail: 1, notRun: 0, notChecked: 0 };
    const result = {
      runId: id, suite: { name: 'suite' }, controlPlane: 'http://127.0.0.1', syncProfile: null, startedAt: new Date(at).toISOString(), finishedAt: new Date(at + 1).toISOString(),
      durationMs: 1, ok: false, summary, hosts: [], rows: [], cells: [], coverage: { exercised: [], detected: [] },
    };
    await env.store.runs.insertTestRun({ runId: id, suiteName: 'suite', startedAt: at, finishedAt: at + 1, ok: false, summary, suite: {}, result, cells: [] });
  }
  // The list's rows only (the page also links the newest run above its matrix).
  const table = (page: string) => /<div id="runs-table"[\s\S]*?<\/table>/.exec(page)![0];
  const first = await get('/portal/runs');
  assert.match(first, /55 stored runs/);
  const ids = all(table(first), /<a href="\/portal\/runs\/(run-\d\d)">/g);
  assert.deepEqual(ids, Array.from({ length: 50 }, (_, k) => `run-${String(54 - k).padStart(2, '0')}`));
  assert.match(first, /Rows 1–50 of 55/);
  const last = await get('/portal/runs?page=2');
  assert.deepEqual(all(table(last), /<a href="\/portal\/runs\/(run-\d\d)">/g), ['run-04', 'run-03', 'run-02', 'run-01', 'run-00']);
  assert.match(last, /id="latest-run"[\s\S]*?run-54/, 'the newest run\'s matrix on a later page too');
  assert.match(last, /Rows 51–55 of 55/);
});

test('inventory: 60 assets, a page of 50 in name order, the last 10 on page 2, and a search counted over all of them', async (t) => {
  const { env, get } = await portal(t);
  const s = env.store;
  await s.inventory.upsertConnector({ name: 'aws-1', provider: 'AWS', accountId: '123456789012', subscription: 'sub', resourceGroup: 'rg', location: 'eastus', config: {}, createdAt: T0, updatedAt: T0 });
  // Names in reverse of their key order, so name order is not insertion order.
  const name = (i: number) => `vm-${String(59 - i).padStart(2, '0')}`;
  for (let i = 0; i < 60; i++) {
    await s.inventory.upsertCspmResource({ connector: 'aws-1', kind: 'aws-ec2-instance', nativeId: `i-${i}`, resourceId: `arn:aws:ec2:us-east-1:123456789012:instance/i-${i}`, name: name(i), region: 'us-east-1', state: 'running', data: {}, firstSeen: T0, lastSeen: T0, deletedAt: null });
  }
  await s.inventory.replaceAssets(Array.from({ length: 60 }, (_, i) => ({
    assetId: `asset-${String(i).padStart(2, '0')}`, assetKey: `key-${String(i).padStart(2, '0')}`, confidence: 'single' as const, conflicts: [], reasons: [], updatedAt: T0,
    sources: [{ kind: 'cspm' as const, id: `arn:aws:ec2:us-east-1:123456789012:instance/i-${i}` }],
  })));
  const names = (page: string) => all(page, /<span title="arn:[^"]*">(vm-\d\d)<\/span>/g);
  const first = await get('/portal/inventory');
  assert.match(first, /60 of 60 assets/);
  assert.deepEqual(names(first), Array.from({ length: 50 }, (_, k) => `vm-${String(k).padStart(2, '0')}`));
  const second = await get('/portal/inventory?page=2');
  assert.deepEqual(names(second), Array.from({ length: 10 }, (_, k) => `vm-${String(50 + k).padStart(2, '0')}`));
  assert.match(second, /Rows 51–60 of 60/);
  const desc = await get('/portal/inventory?sort=name&dir=desc');
  assert.deepEqual(names(desc).slice(0, 3), ['vm-59', 'vm-58', 'vm-57']);
  const found = await get('/portal/inventory?q=VM-1');
  assert.match(found, /10 of 60 assets/);
  assert.deepEqual(names(found), Array.from({ length: 10 }, (_, k) => `vm-1${k}`));
  assert.match(await get('/portal/inventory?source=GCP'), /0 of 60 assets/);
});

test('recommendations: counts and the secure score from all assessments, affected resources 50 at a time', async (t) => {
  const { env, get } = await portal(t);
  // Vulnerability findings: a High recommendation the inventory's own evaluation never rewrites.
  const key = RECOMMENDATIONS.vmVulnerabilities.key;
  const vm = (i: number) => `/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/vm-${String(i).padStart(2, '0')}`;
  for (let i = 0; i < 80; i++) {
    await env.store.inventory.upsertAssessment({ assessmentKey: key, resourceId: vm(i), subscription: 'sub-1', status: i < 60 ? 'Unhealthy' : 'Healthy', details: {}, firstSeen: T0, statusChanged: T0 });
  }
  const page = await get('/portal/recommendations');
  // 20 of 80 healthy: a High recommendation earns 3 × 20 / 80 of its 3 points.
  assert.match(page, /id="secure-score-sub-1"[\s\S]*?25%|25%[\s\S]*?id="secure-score-sub-1"/);
  const row = new RegExp(`<tr data-key="${key}">[\\s\\S]*?</tr>`).exec(page)![0];
  assert.deepEqual(all(row, /<td class="num">(\d+)<\/td>/g), ['60', '20'], 'unhealthy, healthy');
  assert.match(row, /<summary>60 resources<\/summary>/);
  const listed = (html: string) => all(html, /<code>[^<]*\/machines\/(vm-\d\d)<\/code>/g);
  assert.deepEqual(listed(row), Array.from({ length: 50 }, (_, k) => `vm-${String(k).padStart(2, '0')}`));
  assert.match(row, /Rows 1–50 of 60/);
  const next = await get(`/portal/recommendations?rec=${key}&page=2`);
  const row2 = new RegExp(`<tr data-key="${key}">[\\s\\S]*?</tr>`).exec(next)![0];
  assert.deepEqual(listed(row2), Array.from({ length: 10 }, (_, k) => `vm-${50 + k}`));
  assert.match(row2, /<details open>/);
});
