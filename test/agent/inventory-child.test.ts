import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.ts';
import { childInventoryRunner, runInventoryChild } from '../../agent/inventory-child.ts';
import type { Logger } from '../../lib/logger.ts';
import { agentEntryMode } from '../../bench/agent-footprint.ts';
import { cleanup, startControlPlane, tempDir, TEST_FACTS } from '../helpers.ts';

const REPO = join(import.meta.dirname, '..', '..');
const BIN = join(REPO, 'bin', 'arcsim-agent.js');
const GOOD = { machine: TEST_FACTS, sqlInstances: [{ instanceName: 'MSSQLSERVER', engine: 'sqlserver', discoveredBy: 'port' }], notes: ['cloud Azure: test'] };

/** A fake inventory entry script: prints `stdout`, writes `stderr`, exits with `code` (after `delayMs`). */
function fakeEntry(dir: string, name: string, o: { stdout?: string; stderr?: string; code?: number; delayMs?: number }): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `
setTimeout(() => {
  process.stdout.write(${JSON.stringify(o.stdout ?? '')});
  process.stderr.write(${JSON.stringify(o.stderr ?? '')});
  process.exitCode = ${o.code ?? 0};
}, ${o.delayMs ?? 0});
`);
  return file;
}

/** Records what a logger was given, per level. */
function recordingLogger(): { logger: Logger; lines: Array<{ level: string; message: string; meta: unknown }> } {
  const lines: Array<{ level: string; message: string; meta: unknown }> = [];
  const at = (level: string) => (message: string, meta?: unknown) => { lines.push({ level, message, meta }); };
  const logger = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as Logger;
  return { logger, lines };
}

test('runInventoryChild: a child that prints a valid inventory; its arguments are passed on', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'args.mjs');
  writeFileSync(file, `process.stdout.write(JSON.stringify({ ...${JSON.stringify(GOOD)}, notes: process.argv.slice(2) }));`);
  const inv = await runInventoryChild({ entry: file, args: ['collect-inventory', '--config', 'a.yaml'] });
  assert.deepEqual(inv.machine, TEST_FACTS);
  assert.deepEqual(inv.sqlInstances, GOOD.sqlInstances);
  assert.deepEqual(inv.notes, ['collect-inventory', '--config', 'a.yaml']);
});

test('runInventoryChild: failures are rejected with a message saying which child and why', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const cases: Array<[string, Parameters<typeof fakeEntry>[2], RegExp, number?]> = [
    ['exit', { stderr: 'line 1\narcsim-agent: boom: persona.yaml: cloud: invalid\n', code: 3 }, /inventory child process \(.*exit\.mjs collect-inventory\) exited with code 3: arcsim-agent: boom: persona\.yaml: cloud: invalid$/],
    ['nojson', { stdout: 'not json' }, /printed no valid JSON/],
    ['invalid', { stdout: JSON.stringify({ ...GOOD, machine: { ...TEST_FACTS, hostname: '' } }) }, /printed an invalid inventory: machine\.hostname: /],
    ['extra', { stdout: JSON.stringify({ ...GOOD, evil: true }) }, /printed an invalid inventory: \(root\): /],
    ['slow', { stdout: JSON.stringify(GOOD), delayMs: 10_000 }, /timed out after 300 ms/, 300],
  ];
  for (const [name, o, expected, timeoutMs] of cases) {
    const started = Date.now();
    await assert.rejects(runInventoryChild({ entry: fakeEntry(dir, name, o), args: ['collect-inventory'], timeoutMs }), expected, name);
    if (timeoutMs) assert.ok(Date.now() - started < 5000, 'the slow child is killed at the timeout');
  }
  await assert.rejects(runInventoryChild({ entry: join(dir, 'missing.mjs'), args: [] }), /exited with code 1: .*Cannot find module/);
  await assert.rejects(runInventoryChild({ entry: 'x', args: [], execPath: join(dir, 'no-node') }), /could not start: .*ENOENT/);
});

test('Agent.inventoryRunner: the child inventory is registered; a failing child is logged and the in-process inventory used', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const env = await startControlPlane({ dir });
  t.after(() => env.close());
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  // Hermetic in-process fallback: no processes, no DMI, metadata on a closed port.
  const inventory = { sysRoot: dir, awsImdsUrl: 'http://127.0.0.1:9', gcpMetadataUrl: 'http://127.0.0.1:9', processes: async () => [], listeners: async () => [] };

  const ok = recordingLogger();
  const good = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(dir, 'a1'), logger: ok.logger, inventory,
    inventoryRunner: childInventoryRunner({ entry: fakeEntry(dir, 'good', { stdout: JSON.stringify(GOOD) }), args: [] }),
  });
  t.after(() => good.stop());
  const r1 = good.waitRegistered();
  await good.start();
  await r1;
  const m1 = await env.store.machines.getMachine(good.agentId!);
  assert.equal(m1!.facts.hostname, TEST_FACTS.hostname, 'the child\'s facts were registered');
  assert.equal(m1!.sqlInstances[0]!.instanceName, 'MSSQLSERVER');
  assert.ok(ok.lines.some((l) => l.level === 'info' && l.message === 'cloud Azure: test'), 'the child\'s notes are logged');
  assert.ok(!ok.lines.some((l) => l.level === 'error'));

  const bad = recordingLogger();
  const failing = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(dir, 'a2'), logger: bad.logger, inventory,
    inventoryRunner: childInventoryRunner({ entry: fakeEntry(dir, 'bad', { stderr: 'kaput\n', code: 1 }), args: ['collect-inventory'] }),
  });
  t.after(() => failing.stop());
  const r2 = failing.waitRegistered();
  await failing.start();
  await r2;
  const m2 = await env.store.machines.getMachine(failing.agentId!);
  assert.equal(m2!.facts.hostname, hostname(), 'the in-process inventory of this host was registered');
  const err = bad.lines.find((l) => l.level === 'error');
  assert.ok(err, 'the failure is logged as an error');
  assert.match(err.message, /inventory child process failed; taking the inventory in this process/);
  assert.match(String((err.meta as { error: string }).error), /bad\.mjs collect-inventory\) exited with code 1: kaput/);
});

/** Builds dist/arcsim-agent.cjs when it is missing or older than its sources (what `npm ci` does through `prepare`). */
function ensureBundle(): void {
  if (agentEntryMode() === 'bundle') return;
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-agent.mjs'), '--quiet'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(agentEntryMode(), 'bundle');
}

/**
 * A preload that counts the process's `require('child_process')` calls and appends the count to
 * $ARCSIM_TEST_SI_LOG at exit. The bundle inlines systeminformation, whose modules require
 * child_process 33 times between them as they load; the rest of the agent a handful of times.
 */
const HOOK = `import Module from 'node:module';
import { appendFileSync } from 'node:fs';
let n = 0;
const load = Module._load;
Module._load = function (request, ...rest) { if (request === 'child_process' || request === 'node:child_process') n++; return load.call(this, request, ...rest); };
process.on('exit', () => appendFileSync(process.env.ARCSIM_TEST_SI_LOG, n + '\\n'));`;
const RECORD_SI = `data:text/javascript,${encodeURIComponent(HOOK)}`;
/** More child_process requires than the agent itself makes: systeminformation was loaded. */
const SI_LOADED = 20;

test('the agent service (bundle) takes its inventory in a child and never loads systeminformation itself', async (t) => {
  ensureBundle();
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, 'awsImdsUrl: http://127.0.0.1:9\ngcpMetadataUrl: http://127.0.0.1:9\n');
  const siLog = join(dir, 'si.log');

  // The hook works: the inventory subcommand loads systeminformation, and prints exactly the Inventory object.
  const inv = spawnSync(process.execPath, ['--import', RECORD_SI, BIN, 'collect-inventory', '--config', config], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, ARCSIM_TEST_SI_LOG: siLog },
  });
  assert.equal(inv.status, 0, inv.stderr);
  assert.deepEqual(Object.keys(JSON.parse(inv.stdout)).sort(), ['machine', 'notes', 'sqlInstances']);
  const inChild = Number(readFileSync(siLog, 'utf8'));
  assert.ok(inChild > SI_LOADED, `the inventory subcommand loaded systeminformation (${inChild} child_process requires)`);
  cleanup(siLog);

  const env = await startControlPlane({ dir: join(dir, 'cp') });
  t.after(() => env.close());
  const token = await env.cp.createToken({ subscription: 's', resourceGroup: 'rg' });
  const registered = new Promise<{ agentId: string }>((resolve) => env.cp.once('registered', (s: { agentId: string }) => resolve(s)));
  const child = spawn(process.execPath, ['--import', RECORD_SI, BIN, 'run', '--control-plane', env.url, '--token', token.token, '--state-dir', join(dir, 'agent'), '--config', config, '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ARCSIM_TEST_SI_LOG: siLog },
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const stopAgent = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  };
  t.after(stopAgent);
  let timer: NodeJS.Timeout | undefined;
  const session = await Promise.race([registered, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not registered in 30 s: ${stderr}`)), 30_000)))]);
  clearTimeout(timer);
  const machine = await env.store.machines.getMachine(session.agentId);
  assert.equal(machine!.facts.hostname, hostname(), 'the real host inventory was registered');
  await new Promise((r) => setTimeout(r, 500));
  assert.doesNotMatch(stderr, /"level":"error"/, stderr);
  await stopAgent(); // before the control plane closes
  const inService = Number(readFileSync(siLog, 'utf8'));
  assert.ok(inService < SI_LOADED, `the service process never loaded systeminformation (${inService} child_process requires)`);
});
