import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { agentEntryMode } from '../../bench/agent-footprint.ts';
import { cleanup, tempDir } from '../helpers.ts';

const REPO = join(import.meta.dirname, '..', '..');
const BIN = join(REPO, 'bin', 'arcsim-agent.js');

/**
 * A preload that makes any attempt to load tsx fail: a process started with it can only run the
 * agent from the prebuilt bundle.
 */
const HOOK = `export async function resolve(s, c, next) { if (s === 'tsx' || s.startsWith('tsx/')) throw new Error('tsx was loaded'); return next(s, c); }`;
const NO_TSX = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`)}`;

/** Builds dist/arcsim-agent.cjs when it is missing or older than its sources (what `npm ci` does through `prepare`). */
function ensureBundle(): void {
  if (agentEntryMode() === 'bundle') return;
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-agent.mjs'), '--quiet'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(agentEntryMode(), 'bundle');
}

function agent(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--import', NO_TSX, BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
}

test('bin/arcsim-agent.js runs the prebuilt bundle without tsx: --help and inventory --json', (t) => {
  ensureBundle();
  const bundle = readFileSync(join(REPO, 'dist', 'arcsim-agent.cjs'), 'utf8');
  assert.doesNotMatch(bundle, /from ["']tsx/, 'the bundle does not import tsx');
  assert.doesNotMatch(bundle, /fastify|pg-pool/, 'the control plane is not in the agent bundle');

  const help = agent(['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: arcsim-agent /);
  assert.match(help.stdout, /inventory/);
  assert.equal(help.stderr, '');
  // A usage error exits 2, as documented for arcsim (docs/errors.md), not 1.
  const usage = agent(['run', '--no-such-option']);
  assert.equal(usage.status, 2, usage.stderr);
  assert.match(usage.stderr, /^error: /);

  // Metadata URLs on a closed loopback port: even on a cloud CI runner the test asks no real metadata service.
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, 'awsImdsUrl: http://127.0.0.1:9\ngcpMetadataUrl: http://127.0.0.1:9\n');
  const inv = agent(['inventory', '--json', '--config', config]);
  assert.equal(inv.status, 0, inv.stderr);
  const payload = JSON.parse(inv.stdout);
  assert.deepEqual(Object.keys(payload).sort(), ['machine', 'sqlInstances']);
  assert.equal(payload.machine.hostname, hostname());
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  assert.equal(payload.machine.agentVersion, pkg.version, 'package.json found from the bundle');
});

test('the NO_TSX guard works: forcing the source fallback fails to load tsx', () => {
  const r = agent(['--help'], { ARCSIM_AGENT_FROM_SOURCE: '1' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /tsx was loaded/);
});
