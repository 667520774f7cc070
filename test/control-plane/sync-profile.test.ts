import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { loadConfigFile } from '../../control-plane/config-file.ts';
import { apiKeyFor, cleanup, enroll, RawAgent, startControlPlane, tempDir, TEST_FACTS, type TestControlPlane } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const library = loadLibrary();

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const call = async (env: TestControlPlane, key: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${env.url}${path}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
};

/** One MDC detection (SSH brute force) on a fresh Linux host. */
async function raiseMdcAlert(env: TestControlPlane, token: string, name: string): Promise<void> {
  const creds = await enroll(env.url, token, name);
  const a = await RawAgent.connect(env.url, creds);
  await a.register({ ...TEST_FACTS, hostname: name });
  const events = planEvents(library.get('ssh-brute-force-failed')!, { detonationId: `dt-${name}`, device: { id: creds.agentId, name }, startTime: Date.now() - 60_000, seed: 1 }).map((p) => p.event);
  a.send({ v: 1, type: 'events', seq: 1, events });
  await a.next('ack');
  a.close();
}

test('sync profile in the config file: mdc-classic, sentinel-hub, xdr-unified (and blog-2022, its old name); anything else is refused with its path', () => {
  const dir = tempDir();
  try {
    for (const profile of ['mdc-classic', 'sentinel-hub', 'xdr-unified', 'blog-2022']) {
      writeFileSync(join(dir, 'cp.yaml'), `sync:\n  profile: ${profile}\n  mdeStatusToMdc: true\n`);
      assert.equal(loadConfigFile(join(dir, 'cp.yaml')).sync?.profile, profile);
    }
    writeFileSync(join(dir, 'cp.yaml'), 'sync:\n  profile: sentinel\n');
    assert.throws(() => loadConfigFile(join(dir, 'cp.yaml')), (e: any) => e.code === 'ARCSIM_E_CONFIG_SCHEMA' && e.path === 'sync.profile');
  } finally {
    cleanup(dir);
  }
});

test('sync profile chosen through the API (contributor): Sentinel copies appear under sentinel-hub, the choice survives a restart', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  let env = await startControlPlane({ dir });
  t.after(() => env.close());
  const reader = await apiKeyFor(env);
  const responder = await apiKeyFor(env, 'responder');
  const contributor = await apiKeyFor(env, 'contributor');
  const token = (await env.cp.createToken({ subscription: 'sub', resourceGroup: 'rg' })).token;

  const before = await call(env, reader, 'GET', '/api/sync/profile');
  assert.equal(before.status, 200);
  assert.equal(before.body.profile, 'mdc-classic');
  assert.equal(before.body.source, 'config');
  assert.deepEqual(before.body.profiles.map((p: any) => p.name), ['mdc-classic', 'sentinel-hub', 'xdr-unified']);
  await raiseMdcAlert(env, token, 'host-a');
  assert.deepEqual((await call(env, reader, 'GET', '/api/alerts?product=Sentinel')).body.value, [], 'no Sentinel without the hub');

  assert.equal((await call(env, responder, 'PUT', '/api/sync/profile', { profile: 'sentinel-hub' })).status, 403, 'choosing a profile needs a contributor key');
  const bad = await call(env, contributor, 'PUT', '/api/sync/profile', { profile: 'sentinel' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'ARCSIM_E_VALIDATION');
  const set = await call(env, contributor, 'PUT', '/api/sync/profile', { profile: 'sentinel-hub' });
  assert.equal(set.status, 200);
  assert.equal(set.body.profile, 'sentinel-hub');
  assert.equal(set.body.source, 'api');
  assert.equal(set.body.sentinel, true);
  // The hub's edges: the MDC connector both ways, the XDR connector M365D <-> Sentinel.
  for (const e of [['MDC', 'Sentinel'], ['Sentinel', 'MDC'], ['M365D', 'Sentinel'], ['Sentinel', 'M365D']]) {
    assert.ok(set.body.edges.some((x: any) => x.from === e[0] && x.to === e[1]), `edge ${e.join(' -> ')}`);
  }
  assert.equal((await call(env, reader, 'GET', '/api/sync')).body.profile, 'sentinel-hub');

  await raiseMdcAlert(env, token, 'host-b');
  const sentinel = (await call(env, reader, 'GET', '/api/alerts?product=Sentinel')).body.value;
  assert.equal(sentinel.length, 1, '?product=Sentinel lists the alert raised under sentinel-hub');
  assert.match(sentinel[0].properties.compromisedEntity, /host-b/);
  // Closing it in Sentinel reaches MDC (bi-directional sync).
  const closed = await call(env, responder, 'POST', `/api/alerts/${sentinel[0].name}/resolve?product=Sentinel`);
  assert.equal(closed.status, 200);
  assert.deepEqual(closed.body.changes.map((c: any) => [c.product, c.to]).sort(), [['MDC', 'Resolved'], ['Sentinel', 'Resolved']]);

  // A control plane started again on the same store applies the stored choice.
  await env.close();
  env = await startControlPlane({ dir });
  const after = await call(env, reader, 'GET', '/api/sync/profile');
  assert.equal(after.body.profile, 'sentinel-hub');
  assert.equal(after.body.source, 'api');
});

test('arcsim sync profile show | set NAME', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const contributor = await apiKeyFor(env, 'contributor');
  const reader = await apiKeyFor(env);
  const show = await cli(['sync', 'profile', 'show', '--control-plane', env.url, '--api-key', reader]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^sync profile mdc-classic \(from the config file/m);
  const set = await cli(['sync', 'profile', 'set', 'xdr-unified', '--mde-status-to-mdc', '--control-plane', env.url, '--api-key', contributor]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /^sync profile xdr-unified \(chosen by test-contributor at /m);
  assert.match(set.stdout, /mdeStatusToMdc: true/);
  const refused = await cli(['sync', 'profile', 'set', 'sentinel-hub', '--control-plane', env.url, '--api-key', reader]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ARCSIM_E_FORBIDDEN/);
  const unknown = await cli(['sync', 'profile', 'set', 'hub', '--control-plane', env.url, '--api-key', contributor]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /mdc-classic, sentinel-hub, xdr-unified/);
});
