import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cleanup, startControlPlane, tempDir } from '../helpers.ts';
import { httpsGet, writeTestPki } from '../support/https.ts';

/**
 * What install.sh runs on the host: bash and the coreutils it calls, besides node. Nothing else
 * goes into the clean root: no npm, no compiler, no curl, no systemd.
 */
const CLEAN_ROOT_TOOLS = ['bash', 'sha256sum', 'base64', 'mktemp', 'rm', 'mkdir', 'cp', 'chmod', 'mv', 'cat'];

function which(tool: string): string | undefined {
  const r = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Why the clean-root install cannot run here, or undefined. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (chroot)';
  if (process.getuid?.() !== 0) return 'needs root (chroot, mknod)';
  for (const t of ['chroot', 'ldd', 'mknod', ...CLEAN_ROOT_TOOLS]) if (!which(t)) return `needs ${t} on the test host`;
  return undefined;
}

/** Copies a binary and every shared library `ldd` lists for it to the same paths under `root`. */
function copyWithLibraries(root: string, binary: string, as: string): void {
  const place = (from: string, to: string) => {
    mkdirSync(dirname(join(root, to)), { recursive: true });
    if (!existsSync(join(root, to))) copyFileSync(realpathSync(from), join(root, to));
  };
  place(binary, as);
  chmodSync(join(root, as), 0o755);
  const out = spawnSync('ldd', [binary], { encoding: 'utf8' }).stdout;
  for (const m of out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) place(m[1]!, m[1]!);
}

/** A root holding only node, install.sh's tools, their libraries, /tmp and /dev/null. */
function buildCleanRoot(root: string): void {
  copyWithLibraries(root, process.execPath, '/usr/bin/node');
  for (const t of CLEAN_ROOT_TOOLS) copyWithLibraries(root, which(t)!, `/usr/bin/${t}`);
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(join(root, 'usr/bin/bash'), join(root, 'bin/sh'));
  chmodSync(join(root, 'bin/sh'), 0o755);
  mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
  mkdirSync(join(root, 'dev'), { recursive: true });
  const r = spawnSync('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mknod /dev/null: ${r.stderr}`);
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(which('chroot')!, args, { env });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (out += c));
    p.on('close', (code) => resolve({ code, out, ms: performance.now() - t0 }));
  });
}

const skip = unavailable();

test('install.sh of an https control plane on a clean root (only node + coreutils, no npm, no compiler, no curl, no CA store): installs in under 10 s and the agent, pinning the lab CA, registers', { skip }, async (t) => {
  const dir = tempDir();
  const pki = writeTestPki(join(dir, 'tls'));
  const env = await startControlPlane({ dir, config: { tls: { cert: pki.files.cert, key: pki.files.key } } });
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const root = join(env.dir, 'clean-root');
  buildCleanRoot(root);
  for (const absent of ['usr/bin/npm', 'usr/bin/npx', 'usr/bin/cc', 'usr/bin/gcc', 'usr/bin/g++', 'usr/bin/make', 'usr/bin/python3', 'usr/bin/systemctl', 'usr/bin/curl']) {
    assert.equal(existsSync(join(root, absent)), false, `${absent} is not in the clean root`);
  }
  assert.equal(existsSync(join(root, 'etc/ssl')), false, 'no system CA store: only the pinned CA can be trusted');
  writeFileSync(join(root, 'install.sh'), (await httpsGet(`${env.url}/install.sh`, pki.caPem)).body);
  const token = await env.cp.createToken({ subscription: 'sub-clean', resourceGroup: 'rg-clean' });
  const cleanEnv = { PATH: '/usr/bin:/bin', HOME: '/tmp' };

  const install = await run([root, '/usr/bin/bash', '/install.sh', '--token', token.token, '--no-service'], cleanEnv);
  assert.equal(install.code, 0, install.out);
  assert.match(install.out, /CA SHA-256 [0-9a-f]{64} checked/);
  assert.match(install.out, /arcsim install: SHA-256 [0-9a-f]{64} checked/);
  assert.match(install.out, /service not started \(--no-service\)/);
  t.diagnostic(`install.sh on a clean root: ${Math.round(install.ms)} ms (download from loopback included)`);
  assert.ok(install.ms < 10_000, `installed in ${Math.round(install.ms)} ms`);
  const identity = JSON.parse(readFileSync(join(root, 'var/lib/arcsim-agent/identity.json'), 'utf8'));
  assert.equal((await env.store.agents.getAgent(identity.agentId))?.resourceGroup, 'rg-clean');
  assert.ok(existsSync(join(root, 'etc/systemd/system/arcsim-agent.service')));

  // The installed agent runs in the clean root as the unit would, with the env file's variables
  // (ARCSIM_CA_FILE among them), and registers (metadata services on a closed port: no cloud is asked).
  const unitEnv = Object.fromEntries(readFileSync(join(root, 'etc/arcsim-agent/agent.env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(unitEnv.ARCSIM_CA_FILE, '/etc/arcsim-agent/ca.pem');
  writeFileSync(join(root, 'tmp/agent.yaml'), 'awsImdsUrl: http://127.0.0.1:9\ngcpMetadataUrl: http://127.0.0.1:9\n');
  const registered = new Promise<{ agentId: string }>((resolve) => env.cp.once('registered', (s: { agentId: string }) => resolve(s)));
  const agent = spawn(which('chroot')!, [root, '/usr/bin/node', '/opt/arcsim-agent/arcsim-agent.cjs', 'run', '--control-plane', env.url,
    '--state-dir', '/var/lib/arcsim-agent', '--config', '/tmp/agent.yaml', '--log-format', 'json'], { env: { ...cleanEnv, ...unitEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  agent.stderr.on('data', (c) => (stderr += c));
  t.after(async () => {
    if (agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const session = await Promise.race([registered, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not registered in 30 s: ${stderr}`)), 30_000)))]);
  clearTimeout(timer);
  assert.equal(session.agentId, identity.agentId);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
});
