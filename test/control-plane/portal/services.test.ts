import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, TEST_FACTS, type TestControlPlane } from '../../helpers.ts';
import { loadLibrary, planEvents } from '../../../scenarios/index.ts';

/** The hunting page's services and the live feed, through HTTP on loopback (issue 15 items 7 and 9). */
async function lab(t: { after(fn: () => unknown): void }) {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const reader = await apiKeyFor(env, 'reader');
  const responder = await apiKeyFor(env, 'responder');
  const post = (key: string, path: string, body: unknown) => fetch(`${env.url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { env, reader, responder, post };
}

/** A browser session: signs in with the form, returns its cookie and the CSRF token its pages carry. */
async function signIn(env: TestControlPlane, key: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${env.url}/portal/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ key }) });
  assert.equal(res.status, 303);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const page = await (await fetch(`${env.url}/portal`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
  return { cookie, csrf };
}

test('hunting completion: the columns of the table in front, as Kusto.Language offers them', async (t) => {
  const { post, reader } = await lab(t);
  const text = 'DeviceLogonEvents | where Acc';
  const res = await post(reader, '/portal/hunting/complete', { text, position: text.length });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.from, text.length - 3);
  const labels = body.items.map((i: any) => i.label);
  // DESIGN.md: DeviceLogonEvents has AccountDomain and AccountName.
  assert.ok(labels.includes('AccountName') && labels.includes('AccountDomain'), labels.join());
  assert.ok(body.items.every((i: any) => i.label.toLowerCase().startsWith('acc')));
  assert.equal(body.items.find((i: any) => i.label === 'AccountName').kind, 'Column');
  const tables = await (await post(reader, '/portal/hunting/complete', { text: 'DeviceN', position: 7 })).json();
  assert.ok(tables.items.some((i: any) => i.label === 'DeviceNetworkEvents' && i.kind === 'Table'));
});

test('hunting classification: ranges for highlighting, and errors with line and column', async (t) => {
  const { post, reader } = await lab(t);
  const text = 'DeviceLogonEvents\n| where Nope == "x" // c';
  const body = await (await post(reader, '/portal/hunting/classify', { text })).json();
  const kindAt = (start: number) => body.ranges.find((r: any) => r.start === start)?.kind;
  assert.equal(kindAt(0), 'Table');
  assert.equal(kindAt(text.indexOf('where')), 'QueryOperator');
  assert.equal(kindAt(text.indexOf('"x"')), 'StringLiteral');
  assert.equal(kindAt(text.indexOf('//')), 'Comment');
  assert.equal(body.errors.length, 1);
  assert.deepEqual([body.errors[0].line, body.errors[0].column, body.errors[0].length], [2, 9, 4]);
  assert.match(body.errors[0].message, /Nope/);
});

test('hunting run: results as columns and rows; a bad query is 400 ARCSIM_E_QUERY with positions; no key, no answer', async (t) => {
  const { env, post, reader } = await lab(t);
  const ok = await (await post(reader, '/portal/hunting/run', { query: 'range x from 1 to 3 step 1 | extend y = x * 2' })).json();
  assert.deepEqual(ok.columns.map((c: any) => c.name), ['x', 'y']);
  assert.deepEqual(ok.rows, [[1, 2], [2, 4], [3, 6]]);
  const bad = await post(reader, '/portal/hunting/run', { query: 'DeviceLogonEvents\n| where' });
  assert.equal(bad.status, 400);
  const err = await bad.json();
  assert.equal(err.code, 'ARCSIM_E_QUERY');
  assert.equal(err.errors[0].line, 2);
  const tooLong = await post(reader, '/portal/hunting/run', { query: 'x'.repeat(100_001) });
  assert.equal(tooLong.status, 400);
  const anon = await fetch(`${env.url}/portal/hunting/run`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{"query":"print 1"}' });
  assert.equal(anon.status, 303, 'a browser without a session goes to sign in');
  assert.equal(anon.headers.get('location'), '/portal/login');
});

test('hunting CSV: RFC 4180 quoting, a header row, and no formula from lab data', async (t) => {
  const { env, reader } = await lab(t);
  const query = `datatable(name:string, n:long) ["=HYPERLINK(1)", 1, "a,\\"b\\"", -2]`;
  const res = await fetch(`${env.url}/portal/hunting/results.csv?${new URLSearchParams({ query })}`, { headers: { authorization: `Bearer ${reader}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/csv/);
  assert.match(res.headers.get('content-disposition')!, /attachment/);
  assert.equal(await res.text(), `name,n\r\n'=HYPERLINK(1),1\r\n"a,""b""",-2\r\n`);
});

test('saved queries: per signed-in key, CSRF-checked, listed, replaced, deleted', async (t) => {
  const { env, reader, responder } = await lab(t);
  const alice = await signIn(env, reader);
  const form = (s: { cookie: string }, path: string, fields: Record<string, string>) => fetch(`${env.url}${path}`, {
    method: 'POST', redirect: 'manual', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields),
  });
  const forged = await form(alice, '/portal/hunting/saved', { name: 'q1', query: 'DeviceLogonEvents' });
  assert.equal(forged.status, 403);
  assert.equal((await forged.json()).code, 'ARCSIM_E_CSRF');
  const saved = await form(alice, '/portal/hunting/saved', { name: 'q1', query: 'DeviceLogonEvents', csrf: alice.csrf });
  assert.equal(saved.status, 303);
  assert.equal(saved.headers.get('location'), '/portal/hunting?saved=q1');
  await form(alice, '/portal/hunting/saved', { name: 'q1', query: 'DeviceLogonEvents | take 1', csrf: alice.csrf });
  const list = async (s: { cookie: string }) => (await (await fetch(`${env.url}/portal/hunting/saved`, { headers: { cookie: s.cookie } })).json()).value;
  assert.deepEqual((await list(alice)).map((q: any) => [q.name, q.query]), [['q1', 'DeviceLogonEvents | take 1']]);
  const bob = await signIn(env, responder);
  assert.deepEqual(await list(bob), [], 'another key sees its own list');
  assert.equal((await form(bob, '/portal/hunting/saved/delete', { name: 'q1', csrf: bob.csrf })).status, 404);
  assert.equal((await form(alice, '/portal/hunting/saved/delete', { name: 'q1', csrf: alice.csrf })).status, 303);
  assert.deepEqual(await list(alice), []);
});

/** Reads server-sent events from a fetch body until `want` has been seen. */
async function readEvents(res: Response, want: (events: Array<{ event: string; data: any }>) => boolean) {
  const reader = res.body!.getReader();
  const events: Array<{ event: string; data: any }> = [];
  let buf = '';
  while (!want(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += new TextDecoder().decode(value);
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event) events.push({ event, data: data ? JSON.parse(data) : null });
    }
  }
  await reader.cancel();
  return events;
}

test('live feed: a new alert and a status change made through the API reach an open feed', async (t) => {
  const { env, post, reader, responder } = await lab(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(`${env.url}/portal/live`, { headers: { authorization: `Bearer ${reader}` }, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  const events = readEvents(res, (e) => e.some((x) => x.event === 'status'));
  // A real alert: an agent plays the SSH brute-force scenario (scenarios/library).
  const token = await env.cp.createToken({ subscription: 'sub', resourceGroup: 'rg' });
  const creds = await enroll(env.url, token.token, 'web-1');
  const agent = await RawAgent.connect(env.url, creds);
  t.after(() => agent.close());
  await agent.register({ ...TEST_FACTS, hostname: 'web-1' });
  const planned = planEvents(loadLibrary().get('ssh-brute-force-failed')!, { detonationId: 'd1', device: { id: creds.agentId, name: 'web-1' }, startTime: Date.now() - 60_000, seed: 1 });
  agent.send({ v: 1, type: 'events', seq: 1, events: planned.map((p) => p.event) });
  await agent.next('ack');
  const [alert] = (await (await fetch(`${env.url}/api/alerts`, { headers: { authorization: `Bearer ${reader}` } })).json()).value;
  const dismissed = await post(responder, `/api/alerts/${alert.name}/dismiss?product=MDC`, {});
  assert.equal(dismissed.status, 200, await dismissed.clone().text());
  const got = await events;
  const created = got.find((e) => e.event === 'alert');
  // REFERENCE.md: VM_SshBruteForceFailed is "Failed SSH brute force attack", Medium.
  assert.deepEqual([created?.data.subjectId, created?.data.title, created?.data.severity, created?.data.machine], [alert.name, 'Failed SSH brute force attack', 'Medium', 'web-1']);
  const status = got.find((e) => e.event === 'status')!;
  assert.deepEqual([status.data.subject, status.data.subjectId, status.data.product, status.data.status], ['alert', alert.name, 'MDC', 'Dismissed']);
});
