import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installLocal, status, uninstall } from '../../agent/installer.ts';
import { cleanup, startControlPlane, tempDir } from '../helpers.ts';
import { httpsGet, writeTestPki } from '../support/https.ts';

/** Stub `systemctl` on PATH: it logs its arguments. No npm stub: an install must not need npm. */
function stubs(dir: string): { path: string; log: string } {
  const bin = join(dir, 'stub-bin');
  const log = join(dir, 'calls.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "systemctl $*" >> "${log}"\n[ "$1" = is-active ] && echo inactive && exit 3\nexit 0\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  return { path: `${bin}:${process.env.PATH}`, log };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (out += c));
    p.on('close', (code) => resolve({ code, out }));
  });
}

test('GET /install.sh, run against a temp root: agent from the control plane, state 0700, identity 0600, unit, service started', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 'sub-vm', resourceGroup: 'rg-vm' });
  const res = await fetch(`${env.url}/install.sh`);
  assert.equal(res.status, 200);
  const script = await res.text();
  assert.match(script, /^#!\/usr\/bin\/env bash/);
  const root = join(env.dir, 'root');
  const file = join(env.dir, 'install.sh');
  writeFileSync(file, script);
  const s = stubs(env.dir);
  // The control plane runs in this process, so the script must run asynchronously.
  const r = await run('bash', [file, '--token', token.token], { ...process.env, PATH: s.path, ARCSIM_ROOT: root });
  assert.equal(r.code, 0, r.out);

  // One file, the bundle the control plane serves, with the digest install.sh carries.
  const installDir = join(root, 'opt', 'arcsim-agent');
  assert.deepEqual(readdirSync(installDir), ['arcsim-agent.cjs']);
  const served = Buffer.from(await (await fetch(`${env.url}/agent/arcsim-agent.cjs`)).arrayBuffer());
  const digest = createHash('sha256').update(served).digest('hex');
  assert.equal(await (await fetch(`${env.url}/agent/arcsim-agent.cjs.sha256`)).text(), `${digest}  arcsim-agent.cjs\n`);
  assert.ok(script.includes(`EXPECTED_SHA256="${digest}"`), 'the digest is baked into install.sh');
  const installed = readFileSync(join(installDir, 'arcsim-agent.cjs'));
  assert.ok(installed.equals(served));
  assert.equal(statSync(join(installDir, 'arcsim-agent.cjs')).mode & 0o777, 0o755);
  const text = installed.toString('utf8');
  // Package names as their own code spells them, not as this test or the bundle's guard would.
  for (const marker of ['fastify-plugin', 'FST_ERR_', 'pg-protocol', 'better_sqlite3.node', 'createControlPlane', 'esbuild']) {
    assert.equal(text.includes(marker), false, `the agent bundle carries ${marker}`);
  }
  assert.match(r.out, new RegExp(`SHA-256 ${digest} checked`));
  assert.match(r.out, /arcsim install: enrolling\n/);
  const stateDir = join(root, 'var', 'lib', 'arcsim-agent');
  assert.equal(statSync(stateDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(stateDir, 'identity.json')).mode & 0o777, 0o600);
  const identity = JSON.parse(readFileSync(join(stateDir, 'identity.json'), 'utf8'));
  assert.equal((await env.store.agents.getAgent(identity.agentId))?.resourceGroup, 'rg-vm', 'enrolled with the token');
  const envFile = join(root, 'etc', 'arcsim-agent', 'agent.env');
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  assert.equal(readFileSync(envFile, 'utf8'), `ARCSIM_CONTROL_PLANE=${env.url}\nARCSIM_TOKEN=${token.token}\n`);

  const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'arcsim-agent.service'), 'utf8');
  assert.match(unit, new RegExp(`^EnvironmentFile=${envFile}$`, 'm'));
  const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='))!;
  assert.ok(exec.includes(` --optimize-for-size --max-opt=0 --no-icu-timezone-data --max-semi-space-size=1 --regexp-interpret-all ${installDir}/arcsim-agent.cjs run --control-plane \${ARCSIM_CONTROL_PLANE} --state-dir ${stateDir}`), exec);
  // glibc reads MALLOC_MMAP_THRESHOLD_ (mallopt(3)) from the process environment: the unit sets it.
  assert.match(unit, /^Environment=MALLOC_MMAP_THRESHOLD_=65536$/m);
  assert.match(unit, /^WantedBy=multi-user.target$/m);

  const calls = readFileSync(s.log, 'utf8').trim().split('\n');
  assert.deepEqual(calls.filter((c) => c.startsWith('systemctl')), ['systemctl daemon-reload', 'systemctl enable --now arcsim-agent.service']);

  // status and uninstall (what `arcsim agent status|uninstall --root` run), with the same stubs.
  const saved = process.env.PATH;
  process.env.PATH = s.path;
  t.after(() => { process.env.PATH = saved; });
  const st = status({ root });
  assert.deepEqual([st.agentId, st.active, st.unitFile !== null], [identity.agentId, 'inactive', true]);
  const log = await uninstall({ root });
  assert.ok(log.some((l) => l.includes('disable --now')), log.join('\n'));
  // Issue 12: uninstall left the machine registered. It deregisters first: the agent's key is revoked.
  assert.ok(log.some((l) => l.startsWith(`deregistered agent ${identity.agentId}`)), log.join('\n'));
  assert.equal((await env.store.agents.getAgent(identity.agentId))?.revokedReason, 'deregistered');
  assert.equal(existsSync(join(root, 'etc', 'systemd', 'system', 'arcsim-agent.service')), false);
  assert.equal(existsSync(installDir), false);
  assert.equal(existsSync(envFile), false);
  assert.ok(existsSync(join(stateDir, 'identity.json')), 'the identity stays unless --purge');
});

test('install.sh installs nothing when the download does not match the digest it carries', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const script = (await (await fetch(`${env.url}/install.sh`)).text()).replace(/EXPECTED_SHA256="[0-9a-f]{64}"/, `EXPECTED_SHA256="${'0'.repeat(64)}"`);
  const file = join(env.dir, 'install.sh');
  writeFileSync(file, script);
  const root = join(env.dir, 'root');
  const r = await run('bash', [file, '--token', token.token, '--no-service'], { ...process.env, ARCSIM_ROOT: root });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /SHA-256 of the download is not 0{64}; nothing installed/);
  assert.equal(existsSync(root), false, 'nothing written');
});

test('install.sh refuses to run without a token', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const dir = tempDir();
  t.after(() => cleanup(dir));
  writeFileSync(join(dir, 'install.sh'), await (await fetch(`${env.url}/install.sh`)).text());
  const r = await run('bash', [join(dir, 'install.sh')], { ...process.env, ARCSIM_ROOT: join(dir, 'root') });
  assert.equal(r.code, 2);
  assert.match(r.out, /enrollment token is required/);
  assert.equal(existsSync(join(dir, 'root')), false, 'nothing written');
});

test('arcsim agent install --no-start: the bundle built from the checkout, one file, enrolled; status reads the file spool', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const token = await env.cp.createToken({ subscription: 's-local', resourceGroup: 'rg-local' });
  const root = join(env.dir, 'root');
  const cli = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
  const r = await run(process.execPath, [cli, 'agent', 'install', '--control-plane', env.url, '--token', token.token, '--root', root, '--no-start'], process.env);
  assert.equal(r.code, 0, r.out);
  const installDir = join(root, 'opt', 'arcsim-agent');
  assert.deepEqual(readdirSync(installDir), ['arcsim-agent.cjs']);
  assert.match(readFileSync(join(installDir, 'arcsim-agent.cjs'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'arcsim-agent.service'), 'utf8');
  assert.ok(unit.includes(`${installDir}/arcsim-agent.cjs run --control-plane`), unit);
  const stateDir = join(root, 'var', 'lib', 'arcsim-agent');
  const identity = JSON.parse(readFileSync(join(stateDir, 'identity.json'), 'utf8'));
  assert.equal((await env.store.agents.getAgent(identity.agentId))?.resourceGroup, 'rg-local');
  // A spool log as the agent leaves it: 3 events pushed, a batch of 2 taken, then acked.
  writeFileSync(join(stateDir, 'spool.log'), '{"p":[{"ReportId":"a"},{"ReportId":"b"},{"ReportId":"c"}]}\n{"t":1,"n":2}\n{"a":1}\n', { mode: 0o600 });
  assert.equal(status({ root }).spooledEvents, 1);
});

test('install.sh of an https control plane: checks the CA it carries, downloads trusting only it, installs it and the agent pins it', async (t) => {
  const dir = tempDir();
  const pki = writeTestPki(join(dir, 'tls'));
  const env = await startControlPlane({ dir, config: { tls: { cert: pki.files.cert, key: pki.files.key } } });
  t.after(async () => { await env.close(); cleanup(dir); });
  const token = await env.cp.createToken({ subscription: 'sub-tls', resourceGroup: 'rg-tls' });
  const script = (await httpsGet(`${env.url}/install.sh`, pki.caPem)).body;
  const fingerprint = createHash('sha256').update(Buffer.from(pki.caPem.replace(/-----[^-]+-----|\s/g, ''), 'base64')).digest('hex');
  assert.ok(script.includes(`CA_SHA256="${fingerprint}"`));
  const file = join(dir, 'install.sh');
  writeFileSync(file, script);
  const root = join(dir, 'root');
  const r = await run('bash', [file, '--token', token.token, '--no-service'], { ...process.env, ARCSIM_ROOT: root });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`CA SHA-256 ${fingerprint} checked`));
  assert.match(r.out, new RegExp(`downloading the agent from ${env.url}`));
  const caFile = join(root, 'etc', 'arcsim-agent', 'ca.pem');
  assert.equal(readFileSync(caFile, 'utf8').trim(), pki.caPem.trim(), 'the CA the agent pins is installed');
  assert.equal(readFileSync(join(root, 'etc', 'arcsim-agent', 'agent.env'), 'utf8'),
    `ARCSIM_CONTROL_PLANE=${env.url}\nARCSIM_TOKEN=${token.token}\nARCSIM_CA_FILE=${caFile}\n`, 'the service reads the pinned CA from its env file');
  const identity = JSON.parse(readFileSync(join(root, 'var', 'lib', 'arcsim-agent', 'identity.json'), 'utf8'));
  assert.equal((await env.store.agents.getAgent(identity.agentId))?.resourceGroup, 'rg-tls', 'enrolled over https');
  assert.match(r.out, new RegExp(`run --control-plane ${env.url} --ca-file ${caFile} --state-dir`));

  // A CA that does not match the fingerprint the script carries is never trusted, and nothing is installed.
  const other = writeTestPki(join(dir, 'other'));
  writeFileSync(file, script.replace(/CA_PEM='[^']+'/, `CA_PEM='${other.caPem.trim()}'`));
  const bad = join(dir, 'bad-root');
  const refused = await run('bash', [file, '--token', token.token, '--no-service'], { ...process.env, ARCSIM_ROOT: bad });
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, new RegExp(`the CA in this script does not have SHA-256 ${fingerprint}; nothing installed`));
  assert.equal(existsSync(bad), false, 'nothing written');
});

test('arcsim agent install --ca-file (installLocal): installs the pinned CA, names it in the env file and enrolls over https trusting only it', async (t) => {
  const dir = tempDir();
  const pki = writeTestPki(join(dir, 'tls'));
  const env = await startControlPlane({ dir, config: { tls: { cert: pki.files.cert, key: pki.files.key } } });
  t.after(async () => { await env.close(); cleanup(dir); });
  const token = await env.cp.createToken({ subscription: 's-ca', resourceGroup: 'rg-ca' });
  const artifact = join(dir, 'arcsim-agent.cjs');
  writeFileSync(artifact, '// stands in for the bundle: installLocal only copies it\n');
  const root = join(dir, 'root');
  const log = await installLocal({ root, controlPlane: env.url, token: token.token, artifact, start: false, ca: pki.caPem });
  const caFile = join(root, 'etc', 'arcsim-agent', 'ca.pem');
  assert.ok(log.includes(`installed the pinned CA ${caFile}`), log.join('\n'));
  assert.equal(readFileSync(caFile, 'utf8'), pki.caPem);
  assert.equal(readFileSync(join(root, 'etc', 'arcsim-agent', 'agent.env'), 'utf8'), `ARCSIM_CONTROL_PLANE=${env.url}\nARCSIM_TOKEN=${token.token}\nARCSIM_CA_FILE=${caFile}\n`);
  const identity = JSON.parse(readFileSync(join(root, 'var', 'lib', 'arcsim-agent', 'identity.json'), 'utf8'));
  assert.equal((await env.store.agents.getAgent(identity.agentId))?.resourceGroup, 'rg-ca');
  // With another CA pinned, the install stops at enrollment: the token never reaches this server.
  const other = writeTestPki(join(dir, 'other'));
  await assert.rejects(installLocal({ root: join(dir, 'root2'), controlPlane: env.url, token: token.token, artifact, start: false, ca: other.caPem }), /certificate/);
});
