import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { RouteOptions } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createControlPlane, openSqliteStore } from '../../control-plane/index.ts';
import { tempDir } from '../helpers.ts';

type Operation = { security?: Array<Record<string, string[]>> };
type OpenApiDoc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
};

test('GET /openapi.json on a running control plane is valid OpenAPI 3 and lists every registered route', async (t) => {
  const store = openSqliteStore({ file: join(tempDir(), 'arcsim.db') });
  const cp = createControlPlane({ store, config: { port: 0, host: '127.0.0.1' } });
  t.after(async () => {
    await cp.close();
    await store.close();
  });
  // Added before the route plugins load (at listen), so it sees every route the app will serve.
  const routes: RouteOptions[] = [];
  cp.app.addHook('onRoute', (r) => void routes.push(r));
  const url = await cp.listen();

  const res = await fetch(`${url}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as OpenApiDoc;
  assert.match(doc.openapi, /^3\./);
  const verdict = await new Validator().validate(structuredClone(doc));
  assert.equal(verdict.valid, true, JSON.stringify(verdict.errors, null, 2));

  const served = routes.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => ({ method: m.toLowerCase(), url: r.url })))
    // HEAD routes are Fastify's automatic twins of GET routes; /docs is Swagger UI's own page and
    // static assets, not API. The agent WebSocket (/agent/v1) is an HTTP upgrade on the server,
    // not a Fastify route, so it never reaches onRoute.
    .filter((r) => r.method !== 'head' && r.url !== '/docs' && !r.url.startsWith('/docs/'));
  assert.ok(served.length >= 40, `only ${served.length} routes seen: the hook missed the plugins`);
  const missing = served.filter((r) => !doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method]).map((r) => `${r.method.toUpperCase()} ${r.url}`);
  assert.deepEqual(missing, [], 'routes served but not documented');
  for (const known of ['/api/alerts/{id}', '/api/connectors/{name}/snapshots', '/openapi.json', '/install.sh', '/portal/incidents/{id}']) {
    assert.ok(doc.paths[known], `${known} documented`);
  }

  assert.deepEqual(doc.components.securitySchemes.apiKey, { ...doc.components.securitySchemes.apiKey, type: 'http', scheme: 'bearer' });
  assert.equal(doc.components.securitySchemes.agentBearer?.type, 'http');
  assert.deepEqual(doc.paths['/api/tokens']!.post!.security, [{ apiKey: ['admin'] }]);
  assert.deepEqual(doc.paths['/api/alerts/{id}/{action}']!.post!.security, [{ apiKey: ['responder'] }]);
  assert.equal(doc.paths['/api/enroll']!.post!.security, undefined, 'enrollment is authenticated by its token, not the admin key');
  // The guard enforces what the document declares, before anything else: every /api route
  // documented with a role refuses a caller without a key with 401, even with a body that would not
  // pass its schema (so a caller without the key learns nothing from validation errors). Portal
  // pages send a browser to the sign-in form instead (test/control-plane/auth-roles.test.ts).
  const adminOps = Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/')).flatMap(([path, ops]) =>
    Object.entries(ops).filter(([, op]) => op.security?.some((s) => 'apiKey' in s)).map(([method]) => ({ path, method: method.toUpperCase() })));
  assert.ok(adminOps.length >= 40, `only ${adminOps.length} operations with a role documented`);
  for (const { path, method } of adminOps) {
    const concrete = path.replace(/\{(\w+)\}/g, 'x');
    const body = method === 'GET' || method === 'DELETE' ? {} : { headers: { 'content-type': 'application/json' }, body: '{"not":"valid"}' };
    const r = await fetch(`${url}${concrete}`, { method, ...body });
    assert.equal(r.status, 401, `${method} ${path} without a key`);
    assert.equal(((await r.json()) as { code: string }).code, 'ARCSIM_E_UNAUTHORIZED');
  }
  // And every route that changes state declares a role, but for enrollment (its token is the
  // credential) and the portal's sign-in form (the key in its body is).
  const open = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops)
    .filter(([method, op]) => !['get', 'head'].includes(method) && !op.security?.length).map(([method]) => `${method.toUpperCase()} ${path}`));
  assert.deepEqual(open, ['POST /api/enroll', 'POST /portal/login']);
});

test('/docs serves Swagger UI from the control plane itself', async (t) => {
  const store = openSqliteStore({ file: join(tempDir(), 'arcsim.db') });
  const cp = createControlPlane({ store });
  t.after(async () => {
    await cp.close();
    await store.close();
  });
  const page = await cp.app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /swagger-ui/i);
  assert.doesNotMatch(page.body, /https?:\/\/(?!127\.0\.0\.1|localhost)[^"']*\.(js|css)/, 'no asset from a CDN');
  const bundle = await cp.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
  assert.equal(bundle.statusCode, 200);
});
