import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, uninstall } from '../../agent/installer.ts';
import { cleanup, startControlPlane, tempDir } from '../helpers.ts';

const REPO = join(import.meta.dirname, '..', '..');

/** Stub `systemctl` and `npm` on PATH: they log their arguments; npm links the repo's node_modules instead of downloading. */
function stubs(dir: string): { path: string; log: string } {
  const bin = join(dir, 'stub-bin');
  const log = join(dir, 'calls.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "systemctl $*" >> "${log}"\n[ "$1" = is-active ] && echo inactive && exit 3\nexit 0\n`);
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\necho "npm $* (in $(pwd))" >> "${log}"\nln -s "${join(REPO, 'node_modules')}" node_modules\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  chmodSync(join(bin, 'npm'), 0o755);
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

  const installDir = join(root, 'opt', 'arcsim-agent');
  assert.ok(existsSync(join(installDir, 'bin', 'arcsim.js')), 'sources unpacked from the control plane');
  assert.ok(existsSync(join(installDir, 'agent', 'agent.ts')));
  assert.equal(existsSync(join(installDir, 'test')), false, 'tests are not shipped');
  // The service bundle (no tsx at run time) is built by the control plane and shipped, fresh.
  const bundle = join(installDir, 'dist', 'arcsim-agent.mjs');
  assert.ok(existsSync(bundle), 'prebuilt service bundle shipped');
  assert.ok(existsSync(join(installDir, 'scripts', 'build-agent.mjs')), 'and its build script (npm ci runs it through prepare)');
  const sources = JSON.parse(readFileSync(join(installDir, 'dist', 'arcsim-agent.sources.json'), 'utf8')) as string[];
  assert.ok(sources.includes('cli/agent-main.ts'));
  for (const f of sources) assert.ok(statSync(join(installDir, f)).mtimeMs <= statSync(bundle).mtimeMs, `${f} is not newer than the bundle`);
  assert.match(r.out, /arcsim install: enrolling\n/);
  assert.doesNotMatch(r.out, /running from source/, 'enrolled through the bundle');
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
  assert.ok(exec.includes(`${installDir}/bin/arcsim-agent.js run --control-plane \${ARCSIM_CONTROL_PLANE} --state-dir ${stateDir}`), exec);
  assert.match(unit, /^WantedBy=multi-user.target$/m);

  const calls = readFileSync(s.log, 'utf8').trim().split('\n');
  assert.ok(calls.some((c) => c.startsWith('npm ci --omit=dev') && c.includes(installDir)), calls.join('\n'));
  assert.deepEqual(calls.filter((c) => c.startsWith('systemctl')), ['systemctl daemon-reload', 'systemctl enable --now arcsim-agent.service']);

  // status and uninstall (what `arcsim agent status|uninstall --root` run), with the same stubs.
  const saved = process.env.PATH;
  process.env.PATH = s.path;
  t.after(() => { process.env.PATH = saved; });
  const st = status({ root });
  assert.deepEqual([st.agentId, st.active, st.unitFile !== null], [identity.agentId, 'inactive', true]);
  const log = uninstall({ root });
  assert.ok(log.some((l) => l.includes('disable --now')), log.join('\n'));
  assert.equal(existsSync(join(root, 'etc', 'systemd', 'system', 'arcsim-agent.service')), false);
  assert.equal(existsSync(installDir), false);
  assert.equal(existsSync(envFile), false);
  assert.ok(existsSync(join(stateDir, 'identity.json')), 'the identity stays unless --purge');
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
