import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqliteStore, type Store } from '../../control-plane/index.ts';
import { openPostgresStore } from '../../control-plane/store/postgres-store.ts';
import { changeIncidentTriage } from '../../control-plane/products/incident-triage.ts';
import type { AlertRow, IncidentRow } from '../../control-plane/store/index.ts';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';
import { startTestPostgres } from '../support/postgres.ts';

/**
 * Issue 15 item 6: an incident's classification, determination and owner, as Defender XDR's
 * "Manage incident" pane and the Graph incident resource have them (values from Microsoft Graph's
 * security-incident-update reference), on both store backends, through the Graph API, the portal's
 * forms and the Sentinel export.
 */
const T0 = Date.UTC(2026, 5, 1);
const MIN = 60_000;
const postgres = await startTestPostgres();
after(() => postgres.pg?.stop());

const backends: Array<{ name: string; skip: string | undefined; open(): Promise<{ store: Store; done(): Promise<void> }> }> = [
  {
    name: 'sqlite', skip: undefined,
    async open() {
      const dir = tempDir();
      const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
      return { store, async done() { await store.close(); cleanup(dir); } };
    },
  },
  {
    name: 'postgres', skip: postgres.skip,
    async open() {
      const store = await openPostgresStore({ connectionString: await postgres.pg!.createDatabase() });
      return { store, done: () => store.close() };
    },
  },
];

const inc = (id: string, createdAt: number, over: Partial<IncidentRow> = {}): IncidentRow => ({
  incidentId: id, title: id, severity: 'Low', status: 'Active', sentinelStatus: null, createdAt, updatedAt: createdAt,
  firstActivity: createdAt, lastActivity: createdAt, redirectedTo: null, ...over,
});
const alert = (id: string): AlertRow => ({
  systemAlertId: id, dedupKey: id, alertType: 'VM_SshBruteForceFailed', ruleId: 'r1', agentId: 'a1',
  resourceId: '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/web-1', severity: 'Medium', status: 'Active', count: 1,
  startTime: T0, endTime: T0, timeGenerated: T0, updatedAt: T0, latencyMs: null, properties: { alertDisplayName: 'Failed SSH brute force attack' },
});

for (const backend of backends) {
  describe(`incident triage in the store: ${backend.name}`, () => {
    const it = (name: string, fn: (s: Store) => Promise<void>) => test(name, { skip: backend.skip }, async () => {
      const { store, done } = await backend.open();
      try {
        await fn(store);
      } finally {
        await done();
      }
    });

    it('a new incident is unclassified and unassigned; the triage fields set only what is given; the queue filters by owner and classification', async (s) => {
      await s.incidents.insertIncident(inc('i1', T0));
      await s.incidents.insertIncident(inc('i2', T0 + MIN));
      await s.incidents.insertIncident(inc('i3', T0 + 2 * MIN));
      const fresh = (await s.incidents.getIncident('i1'))!;
      assert.deepEqual([fresh.classification, fresh.determination, fresh.assignedTo], ['unknown', 'unknown', null]);
      assert.equal(await s.incidents.setIncidentTriage('i1', { classification: 'truePositive', assignedTo: 'ana@lab' }, T0 + 5 * MIN), true);
      assert.equal(await s.incidents.setIncidentTriage('i1', { determination: 'malware' }, T0 + 6 * MIN), true);
      assert.equal(await s.incidents.setIncidentTriage('i2', { classification: 'falsePositive' }, T0 + 6 * MIN), true);
      assert.equal(await s.incidents.setIncidentTriage('nope', { classification: 'falsePositive' }, T0), false);
      const i1 = (await s.incidents.getIncident('i1'))!;
      assert.deepEqual([i1.classification, i1.determination, i1.assignedTo, i1.updatedAt], ['truePositive', 'malware', 'ana@lab', T0 + 6 * MIN]);
      const ids = async (q: Parameters<Store['incidents']['pageIncidents']>[0]) => (await s.incidents.pageIncidents(q)).rows.map((r) => r.incidentId);
      assert.deepEqual(await ids({ assignedTo: 'ana@lab', limit: 10, offset: 0 }), ['i1']);
      assert.deepEqual(await ids({ assignedTo: null, limit: 10, offset: 0 }), ['i3', 'i2']);
      assert.deepEqual(await ids({ classification: ['falsePositive'], limit: 10, offset: 0 }), ['i2']);
      assert.deepEqual(await ids({ classification: ['unknown'], assignedTo: null, limit: 10, offset: 0 }), ['i3']);
      await s.incidents.setIncidentTriage('i1', { assignedTo: null }, T0 + 7 * MIN);
      assert.equal((await s.incidents.getIncident('i1'))!.assignedTo, null, 'null unassigns');
    });

    it('changeIncidentTriage: one audit row per changed field, the live feed names the field, its alerts assigned too, a merged-away incident refused', async (s) => {
      await s.incidents.insertIncident(inc('i1', T0));
      await s.incidents.insertIncident(inc('gone', T0, { redirectedTo: 'i1', status: 'Resolved' }));
      await s.alerts.upsertAlert(alert('a1'), 0);
      await s.alerts.upsertAlert(alert('a2'), 0);
      await s.incidents.addIncidentAlert('i1', 'a1', T0);
      await s.incidents.addIncidentAlert('i1', 'a2', T0);
      const cursor = await s.portal.liveCursor();
      const changes = await s.transaction((tx) => changeIncidentTriage(tx, {
        incidentId: 'i1', triage: { classification: 'truePositive', determination: 'unknown', assignedTo: 'ana@lab' }, reason: 'by ana (test)', now: T0 + MIN,
      }));
      assert.deepEqual(changes, [{ field: 'classification', from: 'unknown', to: 'truePositive' }, { field: 'assignedTo', from: null, to: 'ana@lab' }], 'determination unchanged: no row');
      const audit = await s.settings.listSyncAudit({ subject: 'incident', subjectId: 'i1' });
      assert.deepEqual(audit.map((a) => [a.field, a.product, a.fromStatus, a.toStatus, a.reason]), [
        ['classification', 'M365D', 'unknown', 'truePositive', 'by ana (test)'], ['assignedTo', 'M365D', '', 'ana@lab', 'by ana (test)'],
      ]);
      const live = (await s.portal.liveChanges(cursor, 100)).changes;
      assert.deepEqual(live.map((c) => [c.subject, c.subjectId, c.field, c.status]), [['incident', 'i1', 'classification', 'truePositive'], ['incident', 'i1', 'assignedTo', 'ana@lab']]);
      for (const id of ['a1', 'a2']) assert.equal((await s.alerts.getAlert(id))!.properties.assignedTo, 'ana@lab', `alert ${id} assigned with its incident`);
      await assert.rejects(s.transaction((tx) => changeIncidentTriage(tx, { incidentId: 'gone', triage: { assignedTo: 'x' }, reason: 'r', now: T0 })), { code: 'ARCSIM_E_NOT_FOUND' });
      await assert.rejects(s.transaction((tx) => changeIncidentTriage(tx, { incidentId: 'nope', triage: { assignedTo: 'x' }, reason: 'r', now: T0 })), { code: 'ARCSIM_E_NOT_FOUND' });
    });
  });
}

test('Graph incidents PATCH, the portal forms and the Sentinel export carry classification, determination and owner; a reader is refused', async (t) => {
  const env = await startControlPlane({ config: { sync: { profile: 'xdr-unified', sentinel: { enabled: true, bidirectional: true } } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const library = loadLibrary();
  const token = await env.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1', location: 'westeurope' });
  const creds = await enroll(env.url, token.token, 'web-01');
  const agent = await RawAgent.connect(env.url, creds);
  t.after(() => agent.close());
  await agent.register({ ...TEST_FACTS, hostname: 'web-01' });
  let seq = 0;
  for (const slug of ['ssh-brute-force-failed', 'ssh-brute-force-success']) {
    const events = planEvents(library.get(slug)!, { detonationId: slug, device: { id: creds.agentId, name: 'web-01' }, startTime: Date.now() - 60_000, seed: ++seq }).map((p) => p.event);
    agent.send({ v: 1, type: 'events', seq, events });
    await agent.next('ack');
  }
  const reader = await apiKeyFor(env, 'reader');
  const responder = await apiKeyFor(env, 'responder');
  const call = async (method: string, path: string, key: string, body?: unknown, form = false) => {
    const res = await fetch(`${env.url}${path}`, {
      method, redirect: 'manual',
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' } : {}) },
      ...(body !== undefined ? { body: form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
  };
  const list = (await call('GET', '/v1.0/security/incidents', reader)).body.value as Array<Record<string, any>>;
  assert.ok(list.length >= 1, 'the scenarios raised an incident');
  const id = list[0]!.id as string;
  assert.deepEqual([list[0]!.classification, list[0]!.determination, list[0]!.assignedTo], ['unknown', 'unknown', null]);

  // A reader may not triage; bad values are a typed 400.
  const refused = await call('PATCH', `/v1.0/security/incidents/${id}`, reader, { assignedTo: 'eve' });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, 'ARCSIM_E_FORBIDDEN');
  for (const bad of [{ classification: 'maybe' }, { determination: 'aliens' }, { status: 'redirected' }, {}, { assignedTo: 'x'.repeat(257) }, { owner: 'x' }]) {
    const r = await call('PATCH', `/v1.0/security/incidents/${id}`, responder, bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.body.code, 'ARCSIM_E_VALIDATION', JSON.stringify(bad));
  }
  assert.equal((await call('PATCH', '/v1.0/security/incidents/no-such', responder, { assignedTo: 'x' })).body.code, 'ARCSIM_E_NOT_FOUND');

  const patched = await call('PATCH', `/v1.0/security/incidents/${id}`, responder, { classification: 'truePositive', determination: 'multiStagedAttack', assignedTo: 'ana@contoso.lab' });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual([patched.body.classification, patched.body.determination, patched.body.assignedTo, patched.body.status], ['truePositive', 'multiStagedAttack', 'ana@contoso.lab', 'active']);
  const filtered = (await call('GET', `/v1.0/security/incidents?${new URLSearchParams({ $filter: "assignedTo eq 'ana@contoso.lab' and classification eq 'truePositive'" })}`, reader)).body.value;
  assert.deepEqual(filtered.map((i: any) => i.id), [id]);
  const expanded = (await call('GET', `/v1.0/security/incidents/${id}?$expand=alerts`, reader)).body;
  assert.ok(expanded.alerts.length >= 1);
  for (const a of expanded.alerts) assert.equal(a.assignedTo, 'ana@contoso.lab', 'assigning an incident assigns its alerts (Defender: "Assign to me")');

  // The portal's incident page shows the values and the activity log (Bearer: no CSRF needed for a script).
  const page = (await call('GET', `/portal/incidents/${id}`, reader)).text;
  assert.match(page, /data-live-status="incident:[^"]+:M365D:classification"[^>]*>True positive</);
  assert.match(page, /data-live-status="incident:[^"]+:M365D:assignedTo"[^>]*>ana@contoso\.lab</);
  assert.match(page, /<tr data-field="classification">.*Not set.*True positive.*Graph PATCH incidents by /s);
  assert.doesNotMatch(page, /id="triage-incident"/, 'a reader gets no triage form');

  // The portal's bulk form: a reader refused, a responder's "Assign to me" takes its key's name; status resolves the alerts.
  const bulk = { id, action: '', classification: '', determination: '', assignedTo: '', assignToMe: '1' };
  const readerBulk = await call('POST', '/portal/incidents/manage', reader, bulk, true);
  assert.equal(readerBulk.status, 403);
  assert.equal(readerBulk.body.code, 'ARCSIM_E_FORBIDDEN');
  const me = await call('POST', '/portal/incidents/manage', responder, bulk, true);
  assert.equal(me.status, 303, me.text);
  const keyName = (await env.store.keys.listKeys()).find((k) => k.role === 'responder')!.name;
  assert.equal((await call('GET', `/v1.0/security/incidents/${id}`, reader)).body.assignedTo, keyName);
  assert.equal((await call('GET', `/portal/incidents?assigned=me`, responder)).text.includes(`/portal/incidents/${id}"`), true, 'the queue filtered to "Assigned to me"');
  assert.equal((await call('GET', `/portal/incidents?assigned=none`, responder)).text.includes(`/portal/incidents/${id}"`), false);
  const resolved = await call('POST', '/portal/incidents/manage', responder, { ...bulk, assignToMe: '', action: 'resolve', classification: 'falsePositive', determination: 'notEnoughDataToValidate' }, true);
  assert.equal(resolved.status, 400, 'assignToMe must be 1 or absent');
  const { assignToMe: _, ...noMe } = bulk;
  assert.equal((await call('POST', '/portal/incidents/manage', responder, { ...noMe, action: 'resolve', classification: 'falsePositive', determination: 'notEnoughDataToValidate' }, true)).status, 303);
  const after = (await call('GET', `/v1.0/security/incidents/${id}?$expand=alerts`, reader)).body;
  assert.deepEqual([after.status, after.classification, after.determination], ['resolved', 'falsePositive', 'notEnoughDataToValidate']);
  for (const a of after.alerts) assert.equal(a.status, 'resolved', 'resolving an M365D incident resolves its alerts');

  // Sentinel (XDR connector): owner, and on the closed incident its classification and reason.
  const sentinel = (await call('GET', '/api/export?format=sentinel', reader)).body.incidents.find((r: any) => r.IncidentName === id);
  assert.equal(sentinel.Status, 'Closed');
  assert.equal(sentinel.Classification, 'FalsePositive');
  assert.equal(sentinel.ClassificationReason, 'InaccurateData');
  assert.equal(JSON.parse(sentinel.Owner).assignedTo, keyName);
});
