/**
 * Regression tests for what the fuzzers (test/fuzz/*.test.ts) found, each naming its input. Every
 * one failed before its fix: the reply had no catalogued ARCSIM_E_ code, or the wrong message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArcsimError } from '../../protocol/errors.ts';
import { DEFAULT_RULES_DIR, loadRules } from '../../control-plane/detection/index.ts';
import { loadLibrary, parseScenario } from '../../scenarios/index.ts';
import { parseSuite } from '../../testruns/suite-loader.ts';
import { apiKeyFor, cleanup, keyedFetch, startControlPlane } from '../helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');

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

test('found by fuzz files: an alias whose anchor is never set (`title: *unexpe24h` in a rule, `name: *unexpe24h` in a scenario or suite) is the file kind\'s typed YAML error naming the unresolved alias, not "too many aliases"', () => {
  const rule = readFileSync(join(DEFAULT_RULES_DIR, 'admin_logon_foreign_off_hours.yml'), 'utf8').replace(/^title:.*$/m, 'title: *unexpe24h');
  const scenario = readFileSync(join(ROOT, 'scenarios', 'library', 'ssh-brute-force-failed.yaml'), 'utf8').replace(/^name:.*$/m, 'name: *unexpe24h');
  const suite = readFileSync(join(ROOT, 'examples', 'onprem.yaml'), 'utf8').replace(/^name:.*$/m, 'name: *unexpe24h');
  const cases: Array<[string, () => unknown, string]> = [
    [rule, () => loadRules([{ file: 'rule.yml', text: rule }]), 'ARCSIM_E_RULE_YAML'],
    [scenario, () => parseScenario(scenario, 'scenario.yaml'), 'ARCSIM_E_SCENARIO_YAML'],
    [suite, () => parseSuite(suite, { file: 'suite.yaml', library: loadLibrary() }), 'ARCSIM_E_SUITE_YAML'],
  ];
  for (const [text, load, code] of cases) {
    assert.match(text, /\*unexpe24h/);
    assert.throws(load, (err: unknown) => {
      assert.ok(err instanceof ArcsimError, `an ArcsimError, got ${String(err)}`);
      assert.equal(err.code, code);
      assert.match(err.message, /Unresolved alias.*unexpe24h/);
      assert.doesNotMatch(err.message, /too many aliases/);
      return true;
    });
  }
});

test('found by fuzz files (seed 20261203): a selection field named `__proto__` or `constructor` is ARCSIM_E_RULE_FIELD naming it, not a TypeError from the field map\'s prototype', () => {
  for (const field of ['__proto__', 'constructor', 'toString']) {
    const text = `title: t\nid: 5c1f3c4e-3a55-4d3c-9e7a-2f0c8a9b7d61\nlogsource: { category: process_creation, product: windows }\ndetection:\n  selection:\n    ${JSON.stringify(field)}: x\n  condition: selection\nlevel: low\n`;
    assert.throws(() => loadRules([{ file: 'proto.yml', text }]), (err: unknown) => {
      assert.ok(err instanceof ArcsimError, String(err));
      assert.equal(err.code, 'ARCSIM_E_RULE_FIELD');
      assert.match(err.message, new RegExp(`field "${field}" does not exist`));
      return true;
    }, field);
  }
});

test('found by fuzz REST (seed 20261203): a KQL query naming `toString` / `__proto__` / `constructor` (GET /portal/hunting?query=toString) is ARCSIM_E_QUERY "unknown table", not a 500', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const post = keyedFetch(await apiKeyFor(env, 'reader'));
  for (const query of ['toString', '__proto__ | take 1', 'constructor']) {
    const res = await post(`${env.url}/api/advancedqueries/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Query: query }) });
    assert.equal(res.status, 400, query);
    const body = await res.json() as { code: string; message: string; errors?: Array<{ message: string }> };
    assert.equal(body.code, 'ARCSIM_E_QUERY', query);
    assert.match(JSON.stringify(body.errors), /unknown table or name/, query);
  }
});
