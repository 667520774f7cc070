import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS, type TestControlPlane } from '../helpers.ts';

const library = loadLibrary();

async function lab(t: { after(fn: () => unknown): void }) {
  const env: TestControlPlane = await startControlPlane({ config: { sync: { profile: 'xdr-unified' } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-1', resourceGroup: 'rg-1', location: 'westeurope' });
  let seed = 0;
  for (const [name, slugs] of [['web-01', ['ssh-brute-force-failed', 'suspicious-powershell-encoded', 'ssh-brute-force-success']], ['db-01', ['sql-injection']]] as const) {
    const creds = await enroll(env.url, token.token, name);
    const a = await RawAgent.connect(env.url, creds);
    t.after(() => a.close());
    await a.register({ ...TEST_FACTS, hostname: name });
    let seq = 0;
    for (const slug of slugs) {
      const events = planEvents(library.get(slug)!, { detonationId: `${name}-${slug}`, device: { id: creds.agentId, name }, startTime: Date.now() - 60_000, seed: ++seed }).map((p) => p.event);
      a.send({ v: 1, type: 'events', seq: ++seq, events });
      await a.next('ack');
    }
  }
  const reader = await apiKeyFor(env, 'reader');
  const responder = await apiKeyFor(env, 'responder');
  const call = async (method: string, path: string, key = reader, body?: unknown) => {
    const res = await fetch(path.startsWith('http') ? path : `${env.url}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  // The MDC REST view (existing API) is the independent reference for what Graph must list.
  const mdc = (await call('GET', '/api/alerts')).body.value as Array<Record<string, any>>;
  assert.ok(mdc.length >= 4, `alerts: ${mdc.length}`);
  return { env, reader, responder, call, mdc };
}

const q = (params: Record<string, string>) => `?${new URLSearchParams(params)}`;

test('Graph alerts_v2: list, $filter (eq, ne, gt, lt, and, or), $orderby, $top/$skip with @odata.nextLink, get by id', async (t) => {
  const { call, mdc } = await lab(t);
  const all = await call('GET', '/v1.0/security/alerts_v2');
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.match(all.body['@odata.context'], /\/v1\.0\/\$metadata#security\/alerts_v2$/);
  assert.deepEqual(all.body.value.map((a: any) => a.providerAlertId).sort(), mdc.map((a) => a.name).sort());
  const severityOf = new Map(mdc.map((a) => [a.name, String(a.properties.severity).toLowerCase()]));
  const ids = (r: any) => r.body.value.map((a: any) => a.providerAlertId).sort();
  const expect = (pred: (sev: string) => boolean) => mdc.filter((a) => pred(severityOf.get(a.name)!)).map((a) => a.name).sort();

  assert.deepEqual(ids(await call('GET', `/v1.0/security/alerts_v2${q({ $filter: "severity eq 'high'" })}`)), expect((s) => s === 'high'));
  assert.deepEqual(ids(await call('GET', `/v1.0/security/alerts_v2${q({ $filter: "severity ne 'high'" })}`)), expect((s) => s !== 'high'));
  assert.deepEqual(ids(await call('GET', `/v1.0/security/alerts_v2${q({ $filter: "severity gt 'medium'" })}`)), expect((s) => s === 'high'), 'enum order: high > medium');
  assert.deepEqual(ids(await call('GET', `/v1.0/security/alerts_v2${q({ $filter: "severity lt 'medium'" })}`)), expect((s) => s === 'low' || s === 'informational'));
  assert.deepEqual(ids(await call('GET', `/v1.0/security/alerts_v2${q({ $filter: "(severity eq 'high' or severity eq 'medium') and status eq 'new'" })}`)), expect((s) => s === 'high' || s === 'medium'));
  const endpoint = mdc.filter((a) => a.properties.extendedProperties.detectingProduct === 'MDE').map((a) => a.name).sort();
  assert.deepEqual(ids(await call('GET', `/v1.0/security/alerts_v2${q({ $filter: "serviceSource eq 'microsoftDefenderForEndpoint'" })}`)), endpoint);
  const future = await call('GET', `/v1.0/security/alerts_v2${q({ $filter: 'createdDateTime gt 2999-01-01T00:00:00Z' })}`);
  assert.deepEqual(future.body.value, []);

  // Paging: one at a time, following @odata.nextLink to the end, newest first.
  const seen: any[] = [];
  let next: string | undefined = `/v1.0/security/alerts_v2${q({ $top: '1', $orderby: 'createdDateTime desc, id' })}`;
  while (next) {
    const r = await call('GET', next);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.value.length <= 1);
    seen.push(...r.body.value);
    next = r.body['@odata.nextLink'];
  }
  assert.equal(seen.length, mdc.length);
  const times = seen.map((a) => Date.parse(a.createdDateTime));
  assert.deepEqual(times, [...times].sort((a, b) => b - a));
  assert.equal((await call('GET', `/v1.0/security/alerts_v2${q({ $skip: String(mdc.length) })}`)).body.value.length, 0);

  // One alert by its XDR id (da…/dc…) and by the detection's id.
  const one = all.body.value[0];
  const byId = await call('GET', `/v1.0/security/alerts_v2/${one.id}`);
  assert.equal(byId.status, 200);
  assert.equal(byId.body.providerAlertId, one.providerAlertId);
  assert.equal((await call('GET', `/v1.0/security/alerts_v2/${one.providerAlertId}`)).body.id, one.id);
  assert.equal((await call('GET', '/v1.0/security/alerts_v2/nope')).status, 404);
});

test('Graph alerts_v2: a bad $filter, $orderby or $top is a typed 400 naming the query part; no key is 401', async (t) => {
  const { call, env } = await lab(t);
  for (const [params, path] of [
    [{ $filter: "severity eq high" }, 'query.$filter'],
    [{ $filter: "title eq 'x'" }, 'query.$filter'],
    [{ $filter: "severity contains 'h'" }, 'query.$filter'],
    [{ $filter: "(severity eq 'high'" }, 'query.$filter'],
    [{ $filter: "severity eq 'high" }, 'query.$filter'],
    [{ $orderby: 'severity sideways' }, 'query.$orderby'],
    [{ $top: '0' }, 'query.$top'],
    [{ $count: 'true' }, 'query'],
  ] as const) {
    const r = await call('GET', `/v1.0/security/alerts_v2${q(params as Record<string, string>)}`);
    assert.equal(r.status, 400, `${JSON.stringify(params)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'ARCSIM_E_VALIDATION');
    assert.ok(String(r.body.path).startsWith(path), `${JSON.stringify(params)}: path ${r.body.path}`);
    // Graph's own error envelope beside arcsim's body (what Graph clients read).
    assert.equal(r.body.error.code, 'ARCSIM_E_VALIDATION');
    assert.equal(r.body.error.target, r.body.path);
    assert.match(r.body.error.innerError.date, /^\d{4}-\d\d-\d\dT/);
    assert.equal(typeof r.body.error.innerError['request-id'], 'string');
  }
  assert.equal((await fetch(`${env.url}/v1.0/security/alerts_v2`)).status, 401);
});

test('Graph PATCH alerts_v2 (responder): status goes through the sync matrix as an M365D change; triage fields stick; audited', async (t) => {
  const { call, responder, reader, mdc, env } = await lab(t);
  const target = mdc.find((a) => a.properties.extendedProperties.detectingProduct === 'MDE')!;
  const graphId = (await call('GET', `/v1.0/security/alerts_v2/${target.name}`)).body.id;
  assert.equal((await call('PATCH', `/v1.0/security/alerts_v2/${graphId}`, reader, { status: 'resolved' })).status, 403);
  const bad = await call('PATCH', `/v1.0/security/alerts_v2/${graphId}`, responder, { status: 'closed' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.path, 'body.status');
  const r = await call('PATCH', `/v1.0/security/alerts_v2/${graphId}`, responder, {
    status: 'resolved', classification: 'truePositive', determination: 'securityTesting', assignedTo: 'ana@lab.example',
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual([r.body.status, r.body.classification, r.body.determination, r.body.assignedTo], ['resolved', 'truePositive', 'securityTesting', 'ana@lab.example']);
  assert.ok(r.body.resolvedDateTime);
  // xdr-unified: a change made in M365D reaches MDE and MDC; the sync audit names M365D as origin.
  const audit = (await call('GET', `/api/alerts/${target.name}/audit`)).body.value as Array<Record<string, any>>;
  assert.ok(audit.some((e) => e.product === 'M365D' && e.originProduct === 'M365D' && e.toStatus === 'Resolved' && e.viaProduct === null), JSON.stringify(audit));
  assert.ok(audit.some((e) => e.product === 'MDE' && e.viaProduct === 'M365D' && e.toStatus === 'Resolved'), JSON.stringify(audit));
  assert.equal((await call('GET', `/api/alerts/${target.name}`)).body.properties.status, 'Resolved');
  const list = await call('GET', `/v1.0/security/alerts_v2${q({ $filter: "classification eq 'truePositive' and status eq 'resolved'" })}`);
  assert.deepEqual(list.body.value.map((a: any) => a.id), [graphId]);
  const unassign = await call('PATCH', `/v1.0/security/alerts_v2/${graphId}`, responder, { assignedTo: null });
  assert.equal(unassign.body.assignedTo, null);
  const rows = await env.store.keys.listAudit({ limit: 50 });
  assert.ok(rows.some((a) => a.method === 'PATCH' && a.route === '/v1.0/security/alerts_v2/:id' && a.status === 200), 'Graph writes are in the audit log');
});

test('Graph incidents: list with and without $expand=alerts, $filter on status and severity', async (t) => {
  const { call } = await lab(t);
  const plain = await call('GET', '/v1.0/security/incidents');
  assert.equal(plain.status, 200, JSON.stringify(plain.body));
  assert.ok(plain.body.value.length >= 1);
  assert.ok(plain.body.value.every((i: any) => i['@odata.type'] === '#microsoft.graph.security.incident' && !('alerts' in i)));
  const expanded = await call('GET', `/v1.0/security/incidents${q({ $expand: 'alerts' })}`);
  const incidents = (await call('GET', '/api/incidents')).body.value as Array<Record<string, any>>;
  for (const i of expanded.body.value) {
    const ref = incidents.find((x) => x.incidentId === i.id)!;
    assert.deepEqual(i.alerts.map((a: any) => a.providerAlertId).sort(), ref.alerts.map((a: any) => a.systemAlertId).sort());
    assert.ok(i.alerts.every((a: any) => a.incidentId === i.id));
  }
  const active = await call('GET', `/v1.0/security/incidents${q({ $filter: "status eq 'active' and severity ne 'informational'" })}`);
  assert.equal(active.body.value.length, incidents.filter((i) => i.status === 'Active' && !i.redirectIncidentId && i.severity !== 'Informational').length);
  assert.equal((await call('GET', `/v1.0/security/incidents/${plain.body.value[0].id}${q({ $expand: 'alerts' })}`)).body.alerts.length >= 1, true);
});

test('MDC ARM alerts: list by subscription (value), get by location, dismiss/activate (204) through the sync matrix as MDC changes', async (t) => {
  const { call, responder, reader, mdc } = await lab(t);
  const v = q({ 'api-version': '2022-01-01' });
  const list = await call('GET', `/subscriptions/sub-1/providers/Microsoft.Security/alerts${v}`);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.deepEqual(list.body.value.map((a: any) => a.properties.systemAlertId).sort(), (await call('GET', '/api/alerts?product=MDC')).body.value.map((a: any) => a.name).sort());
  assert.equal(list.body.nextLink, undefined);
  assert.ok(list.body.value.every((a: any) => a.type === 'Microsoft.Security/Locations/alerts' && !('arcsim' in a)));
  assert.deepEqual((await call('GET', `/subscriptions/other/providers/Microsoft.Security/alerts${v}`)).body.value, []);
  assert.equal((await call('GET', `/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Security/alerts${v}`)).body.value.length, list.body.value.length);
  assert.equal((await call('GET', `/subscriptions/sub-1/providers/Microsoft.Security/locations/westeurope/alerts${v}`)).body.value.length, list.body.value.length);
  const wrongVersion = await call('GET', `/subscriptions/sub-1/providers/Microsoft.Security/alerts${q({ 'api-version': '2019-01-01' })}`);
  assert.equal(wrongVersion.status, 400);
  assert.equal(wrongVersion.body.path, 'query.api-version');
  // ARM's CloudError envelope beside arcsim's body (what ARM clients read).
  assert.deepEqual(wrongVersion.body.error, { code: 'ARCSIM_E_VALIDATION', message: wrongVersion.body.message, target: 'query.api-version' });
  // 2021-11-01 (what @azure/arm-security 5 sends) is served the same, and nextLink would keep it.
  assert.equal((await call('GET', `/subscriptions/sub-1/providers/Microsoft.Security/alerts${q({ 'api-version': '2021-11-01' })}`)).body.value.length, list.body.value.length);

  const own = list.body.value.find((a: any) => a.properties.extendedProperties.detectingProduct !== 'MDE');
  const name = own.name;
  const get = await call('GET', `/subscriptions/sub-1/providers/Microsoft.Security/locations/westeurope/alerts/${name}${v}`);
  assert.equal(get.status, 200);
  assert.equal(get.body.id, own.id);
  assert.equal((await call('GET', `/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Security/locations/westeurope/alerts/${name}${v}`)).status, 200);
  assert.equal((await call('GET', `/subscriptions/sub-1/providers/Microsoft.Security/locations/eastus/alerts/${name}${v}`)).status, 404);

  assert.equal((await call('POST', `/subscriptions/sub-1/providers/Microsoft.Security/locations/westeurope/alerts/${name}/dismiss${v}`, reader)).status, 403);
  const dismissed = await call('POST', `/subscriptions/sub-1/providers/Microsoft.Security/locations/westeurope/alerts/${name}/dismiss${v}`, responder);
  assert.equal(dismissed.status, 204);
  assert.equal((await call('GET', `/subscriptions/sub-1/providers/Microsoft.Security/locations/westeurope/alerts/${name}${v}`)).body.properties.status, 'Dismissed');
  const audit = (await call('GET', `/api/alerts/${name}/audit`)).body.value as Array<Record<string, any>>;
  assert.ok(audit.some((e) => e.product === 'MDC' && e.originProduct === 'MDC' && e.toStatus === 'Dismissed'), JSON.stringify(audit));
  assert.ok(audit.some((e) => e.product === 'M365D' && e.viaProduct === 'MDC'), 'xdr-unified carries an MDC change to M365D');
  const graph = (await call('GET', `/v1.0/security/alerts_v2/${name}`)).body;
  assert.equal(graph.status, 'resolved', 'Dismissed in MDC is resolved in XDR');
  assert.equal((await call('POST', `/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Security/locations/westeurope/alerts/${name}/activate${v}`, responder)).status, 204);
  assert.equal((await call('GET', `/api/alerts/${name}`)).body.properties.status, 'Active');
  assert.equal((await call('POST', `/subscriptions/sub-1/providers/Microsoft.Security/locations/westeurope/alerts/${name}/close${v}`, responder)).status, 400);
  assert.ok(mdc.length > 0);
});

test('MDC ARM list pages by 100 with nextLink ($skipToken); Graph pages by $top with @odata.nextLink', async (t) => {
  const env = await startControlPlane({ config: { sync: { profile: 'xdr-unified' } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const reader = await apiKeyFor(env, 'reader');
  const now = Date.now();
  // 130 stored alerts, each with its MDC and M365D copies, as ingest leaves them.
  await env.store.transaction(async (tx) => {
    for (let i = 0; i < 130; i++) {
      const id = `alert-${String(i).padStart(3, '0')}`;
      await tx.alerts.upsertAlert({
        systemAlertId: id, dedupKey: `k${i}`, alertType: 'VM_SshBruteForceFailed', ruleId: 'r', agentId: 'a', resourceId: '/m/1', severity: 'Medium',
        status: 'Active', count: 1, startTime: now, endTime: now, timeGenerated: now + i, updatedAt: now + i, latencyMs: null,
        properties: { alertDisplayName: 'Failed SSH brute force attack', detectingProduct: 'MDC', intent: 'Probing', entities: [], location: { subscription: 'sub-1', resourceGroup: 'rg-1', location: 'westeurope' } },
      }, 1);
      await tx.alerts.insertAlertCopies([
        { systemAlertId: id, product: 'MDC', copyId: id, status: 'Active', updatedAt: now },
        { systemAlertId: id, product: 'M365D', copyId: `dc${id}`, status: 'Active', updatedAt: now },
      ]);
    }
  });
  const get = async (url: string) => {
    const r = await fetch(url.startsWith('http') ? url : `${env.url}${url}`, { headers: { authorization: `Bearer ${reader}` } });
    assert.equal(r.status, 200);
    return r.json() as Promise<any>;
  };
  const first = await get('/subscriptions/sub-1/providers/Microsoft.Security/alerts?api-version=2022-01-01');
  assert.equal(first.value.length, 100);
  assert.match(first.nextLink, /^http:\/\/127\.0\.0\.1:\d+\/subscriptions\/sub-1\/providers\/Microsoft\.Security\/alerts\?api-version=2022-01-01&\$skipToken=/);
  const second = await get(first.nextLink);
  assert.equal(second.value.length, 30);
  assert.equal(second.nextLink, undefined);
  assert.equal(new Set([...first.value, ...second.value].map((a: any) => a.name)).size, 130);

  const names: string[] = [];
  let next: string | undefined = `/v1.0/security/alerts_v2?$top=50&$filter=${encodeURIComponent("severity eq 'medium'")}`;
  while (next) {
    const page = await get(next);
    names.push(...page.value.map((a: any) => a.id));
    next = page['@odata.nextLink'];
  }
  assert.equal(names.length, 130);
  assert.equal(new Set(names).size, 130);
  assert.equal((await get('/v1.0/security/alerts_v2')).value.length, 100, 'a page without $top holds 100');
});
