/**
 * Regression tests for what the fuzzers (test/fuzz/*.test.ts) found, each naming its input. Every
 * one failed before its fix: the reply had no catalogued ARCSIM_E_ code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiKeyFor, cleanup, keyedFetch, startControlPlane } from '../helpers.ts';

test('found by fuzz REST: a path parameter of 300 characters (GET /api/machines/aaa…) is a 414 URI Too Long with ARCSIM_E_VALIDATION, not Fastify\'s FST_ERR_MAX_PARAM_LENGTH', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const get = keyedFetch(await apiKeyFor(env, 'admin'));
  for (const path of [`/api/machines/${'a'.repeat(300)}`, `/api/keys/${'k'.repeat(300)}`, `/portal/incidents/${'i'.repeat(300)}`]) {
    const res = await get(`${env.url}${path}`, { method: path.startsWith('/api/keys') ? 'DELETE' : 'GET' });
    assert.equal(res.status, 414, path);
    const body = await res.json() as Record<string, unknown>;
    assert.equal(body.code, 'ARCSIM_E_VALIDATION', path);
    assert.equal(body.path, 'params');
    assert.equal(typeof body.message, 'string');
    assert.doesNotMatch(JSON.stringify(body), /FST_ERR/);
  }
});

test('found by fuzz REST: a malformed percent-encoding in a path parameter (GET /api/alerts/%E0%A4%A) is a 400 with ARCSIM_E_VALIDATION, not FST_ERR_BAD_URL', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const get = keyedFetch(await apiKeyFor(env, 'admin'));
  for (const path of ['/api/alerts/%E0%A4%A', '/api/machines/%', '/api/connectors/%zz']) {
    const res = await get(`${env.url}${path}`);
    assert.equal(res.status, 400, path);
    const body = await res.json() as Record<string, unknown>;
    assert.equal(body.code, 'ARCSIM_E_VALIDATION', path);
    assert.doesNotMatch(JSON.stringify(body), /FST_ERR/);
  }
});

test('found by fuzz REST: portal 4xx pages (GET /portal/alerts/close, /portal/incidents/assign, POST /portal/login key=k) name their catalogued code', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const get = keyedFetch(await apiKeyFor(env, 'reader'));
  for (const path of ['/portal/alerts/close', '/portal/incidents/assign']) {
    const res = await get(`${env.url}${path}`);
    assert.equal(res.status, 404, path);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(res.headers.get('x-arcsim-error'), 'ARCSIM_E_NOT_FOUND');
    assert.match(await res.text(), /<code>ARCSIM_E_NOT_FOUND<\/code>/);
  }
  const login = await fetch(`${env.url}/portal/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=k', redirect: 'manual' });
  assert.equal(login.status, 401);
  assert.equal(login.headers.get('x-arcsim-error'), 'ARCSIM_E_UNAUTHORIZED');
  const page = await login.text();
  assert.match(page, /<code>ARCSIM_E_UNAUTHORIZED<\/code>/);
  assert.match(page, /name="key"/, 'the sign-in form is shown again');
});
