/**
 * Seeded fuzzer over the REST API: every route `GET /openapi.json` lists (admin key), with fuzzed
 * path parameters, query strings and bodies (built from each route's own request schema, then
 * mutated; or random JSON, text and form bodies), sent through Fastify's `inject` (the whole
 * request pipeline: auth, content-type parsing, validation, handlers, the error handler). The
 * property: never a 5xx, and every 4xx of the API has a body `{code: 'ARCSIM_E_…', message}` with a
 * catalogued code. `POST /api/connectors/{name}/pull` is never called (it runs cloud CLIs), a
 * connector definition never carries `pull`, and the admin key used is never deleted.
 * `GET /portal/live` is not fuzzed either: it is a server-sent-events stream that stays open, so an
 * injected request never completes (test/control-plane/portal/services.test.ts covers it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { apiKeyFor, cleanup, enroll, startControlPlane } from '../helpers.ts';
import { fcParams, isCatalogued, jsonOps, mutateJson, mutateText, nastyValue, printTally, runsFor, Tally, textOps } from './fuzz-support.ts';

type Schema = Record<string, any>;
interface Route { method: string; path: string; params: string[]; query: string[]; body?: Schema; bodyType?: string }

const RUNS = runsFor(3000);
const FORBIDDEN = (r: Route) => (r.method === 'POST' && /^\/api\/connectors\/\{[^}]+\}\/pull$/.test(r.path)) || (r.method === 'GET' && r.path === '/portal/live');

/** A plausible value for a JSON schema (the valid starting point the mutations work on). */
function exampleOf(s: Schema | undefined, depth = 0): unknown {
  if (!s || depth > 6) return null;
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  const alt = s.anyOf ?? s.oneOf ?? s.allOf;
  if (Array.isArray(alt)) return exampleOf(alt.find((a: Schema) => a.type !== 'null') ?? alt[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries<Schema>(s.properties ?? {})) out[k] = exampleOf(v, depth + 1);
      return out;
    }
    case 'array': return [exampleOf(s.items, depth + 1)];
    case 'integer': case 'number': return s.minimum ?? 1;
    case 'boolean': return true;
    case 'string':
      if (s.format === 'date-time') return '2026-03-02T10:00:00Z';
      if (s.format === 'uuid') return '019cadfd-8af5-7532-be8c-6d9f2ea25e25';
      return 'lab1';
    default: return {};
  }
}

test(`fuzz REST: ${RUNS} fuzzed requests over every route of /openapi.json; no 5xx, every API 4xx has a catalogued ARCSIM_E_ code`, { timeout: 420_000 }, async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const app = env.cp.app;
  const adminKey = await apiKeyFor(env, 'admin');
  const auth = { authorization: `Bearer ${adminKey}` };

  // Some real resources, so fuzzed parameters sometimes name things that exist.
  const token = await env.cp.createToken({ subscription: 'sub-fuzz', resourceGroup: 'rg-fuzz' });
  const enrolled = await enroll(env.url, token.token, 'fuzz-host');
  const connector = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'cspm', 'connector-aws-lab.json'), 'utf8'));
  const put = await app.inject({ method: 'PUT', url: '/api/connectors/aws-lab', headers: auth, payload: connector });
  assert.ok(put.statusCode < 300, put.body);
  const keys = (await app.inject({ method: 'GET', url: '/api/keys', headers: auth })).json() as any;
  const adminKeyIds = new Set<string>(JSON.stringify(keys).match(/"id":"[^"]+"/g)?.map((m) => m.slice(6, -1)) ?? []);
  const known = ['aws-lab', enrolled.agentId, token.id, 'fuzz-host', 'MDE.Linux', 'resolve', 'assign', 'close', 'MDE', 'aws-ec2-instances'];

  const spec = (await app.inject({ method: 'GET', url: '/openapi.json', headers: auth })).json() as { paths: Record<string, Record<string, any>> };
  const routes: Route[] = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters ?? []) as Array<{ in: string; name: string }>;
      const content = op.requestBody?.content as Record<string, { schema: Schema }> | undefined;
      const bodyType = content ? Object.keys(content)[0] : undefined;
      const r: Route = {
        method: method.toUpperCase(), path,
        params: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => p.name),
        body: bodyType ? content![bodyType]!.schema : undefined, bodyType,
      };
      if (!FORBIDDEN(r)) routes.push(r);
    }
  }
  assert.ok(routes.length >= 50, `routes in /openapi.json: ${routes.length}`);

  const str = fc.oneof(fc.constantFrom(...known), nastyValue.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))));
  const request = fc.record({
    route: fc.nat({ max: routes.length - 1 }),
    params: fc.array(str, { minLength: 3, maxLength: 3 }),
    query: fc.array(fc.tuple(fc.oneof(fc.constant(''), fc.string({ maxLength: 8 })), str), { maxLength: 3 }),
    queryPick: fc.array(fc.tuple(fc.nat(), str), { maxLength: 3 }),
    body: fc.oneof(
      { weight: 6, arbitrary: jsonOps.map((ops) => ({ kind: 'mutated' as const, ops })) },
      { weight: 2, arbitrary: fc.constant({ kind: 'valid' as const }) },
      { weight: 1, arbitrary: textOps.map((ops) => ({ kind: 'text' as const, ops })) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ kind: 'json' as const, v })) },
      { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/json; charset=latin1').map((ct) => ({ kind: 'type' as const, ct })) },
    ),
    rawParams: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    authorized: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  });

  const tally = new Tally();
  const statuses = new Map<number, number>();
  await fc.assert(fc.asyncProperty(request, async (q) => {
    const route = routes[q.route]!;
    let url = route.path;
    // Parameters percent-encoded (lone surrogates made well-formed first), or sometimes raw, so bad encodings reach the router too.
    route.params.forEach((name, i) => {
      const v = q.params[i % q.params.length]!;
      url = url.replace(`{${name}}`, q.rawParams ? v.replace(/[^\x21-\x7e]|[/?#]/gu, '_') : encodeURIComponent(Buffer.from(v, 'utf8').toString('utf8')));
    });
    // The key this run authenticates with is never deleted.
    if (route.method === 'DELETE' && route.path === '/api/keys/{id}' && adminKeyIds.has(decodeURIComponent(url.split('/').pop()!))) url = '/api/keys/not-a-key';
    const search = new URLSearchParams();
    for (const [i, v] of q.queryPick) if (route.query.length) search.append(route.query[i % route.query.length]!, v);
    for (const [k, v] of q.query) search.append(k, v);
    const qs = search.toString();

    const headers: Record<string, string> = q.authorized ? { ...auth } : {};
    let payload: string | undefined;
    if (route.body || q.body.kind === 'json' || q.body.kind === 'type') {
      const valid = exampleOf(route.body);
      let doc: unknown = valid;
      headers['content-type'] = route.bodyType ?? 'application/json';
      if (q.body.kind === 'mutated') doc = mutateJson(valid, q.body.ops);
      if (q.body.kind === 'json') doc = q.body.v;
      // Never hand the control plane a scheduled pull: it would run the command.
      if (route.path.startsWith('/api/connectors/') && doc && typeof doc === 'object') delete (doc as Record<string, unknown>).pull;
      payload = route.bodyType === 'application/x-www-form-urlencoded' && doc && typeof doc === 'object'
        ? new URLSearchParams(Object.entries(doc as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''])).toString()
        : JSON.stringify(doc) ?? 'null';
      if (q.body.kind === 'text') payload = mutateText(payload, q.body.ops);
      if (q.body.kind === 'type') headers['content-type'] = q.body.ct;
      if (route.path.startsWith('/api/connectors/') && /pull/i.test(payload)) payload = '{}';
    }
    const res = await app.inject({ method: route.method as 'GET', url: qs ? `${url}?${qs}` : url, headers, payload });
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    const what = `${route.method} ${url}${qs ? `?${qs}` : ''} ${headers['content-type'] ?? ''} ${payload?.slice(0, 400) ?? ''}`;
    assert.ok(res.statusCode < 500, `${res.statusCode} for ${what}: ${res.body.slice(0, 400)}`);
    if (res.statusCode >= 400) {
      const api = !/text\/html/.test(String(res.headers['content-type']));
      if (api) {
        let body: any;
        try { body = res.json(); } catch { assert.fail(`${res.statusCode} without a JSON body for ${what}: ${res.body.slice(0, 200)}`); }
        assert.ok(isCatalogued(body?.code), `${res.statusCode} without a catalogued code for ${what}: ${res.body.slice(0, 300)}`);
        assert.equal(typeof body.message, 'string');
        tally.code(body.code);
      } else {
        // Portal pages answer a person with an HTML page; they must still name the catalogued code, in the
        // x-arcsim-error header or the page's error-code element (the body may echo a fuzzed id such as ARCSIM_E_X).
        const header = res.headers['x-arcsim-error'];
        const code = (typeof header === 'string' ? header : undefined)
          ?? /id="error-code"[^>]*>[^<]*<code>(ARCSIM_E_[A-Z0-9_]+)<\/code>/.exec(res.body)?.[1]
          ?? /ARCSIM_E_[A-Z0-9_]+/.exec(res.body)?.[0];
        assert.ok(isCatalogued(code), `${res.statusCode} HTML page without a catalogued code for ${what}`);
        tally.code(code!);
      }
    } else {
      tally.ok();
    }
  }), fcParams(RUNS, 200));

  const line = printTally('rest', tally);
  process.stdout.write(`fuzz rest: ${routes.length} routes (pull and the live stream excluded), statuses ${[...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s} x${n}`).join(', ')}\n`);
  assert.equal(tally.cases, RUNS, line);
  // The admin key still works: the fuzzer did not lock itself out.
  assert.equal((await app.inject({ method: 'GET', url: '/api/keys', headers: auth })).statusCode, 200);
});
