import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureAgentFootprint } from '../../bench/agent-footprint.ts';
import { createControlPlane, openSqliteStore } from '../../control-plane/index.ts';
import { readYaml } from '../../lib/yaml.ts';
import { UNIT_ENVIRONMENT, UNIT_NODE_ARGS } from '../../protocol/agent-service.ts';
import { cleanup, tempDir } from '../helpers.ts';

// Issue 11, item 3: the idle agent's RSS must stay <= 50 MB. RSS itself is too noisy to assert in
// CI (docs/performance.md, "Agent footprint"); these tests check that the idle path does not load
// or build what was taken out of it, each of which would fail on the agent before the change.

const REPO = join(import.meta.dirname, '..', '..');

test('the agent bundle leaves out winston\'s debug module (@dabh/diagnostics and its colour libraries)', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const { buildAgent } = (await import(join(REPO, 'scripts', 'build-agent.mjs'))) as {
    buildAgent(o: { outDir: string; quiet: boolean }): Promise<{ file: string; metafile: { inputs: Record<string, unknown> } }>;
  };
  const r = await buildAgent({ outDir: dir, quiet: true });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.some((f) => /node_modules\/winston\//.test(f)), 'winston itself is still the logger');
  const debugModules = inputs.filter((f) => /node_modules\/(@dabh\/diagnostics|@so-ric\/colorspace|colorspace|kuler|color-string|color-convert|text-hex)\//.test(f));
  assert.deepEqual(debugModules, []);
});

test('in the agent bundle, zod and the protocol schemas are reached only through dynamic import() (not evaluated at start)', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const { buildAgent } = (await import(join(REPO, 'scripts', 'build-agent.mjs'))) as {
    buildAgent(o: { outDir: string; quiet: boolean }): Promise<{ metafile: { inputs: Record<string, { imports: Array<{ path: string; kind: string }> }> } }>;
  };
  const { inputs } = (await buildAgent({ outDir: dir, quiet: true })).metafile;
  // What the entry reaches by static imports: esbuild evaluates it at start; a module reached only
  // through import() is wrapped and evaluated on first use.
  const seen = new Set(['cli/agent-main.ts']);
  const queue = [...seen];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    for (const i of inputs[f]?.imports ?? []) if (i.kind !== 'dynamic-import' && !seen.has(i.path)) seen.add(i.path), queue.push(i.path);
  }
  const eager = [...seen].filter((f) => /node_modules\/zod\/|^protocol\/(messages|events|faults|test-run)\.ts$|^scenarios\/(schema|loader|atomic-import|index)\.ts$/.test(f));
  assert.deepEqual(eager, []);
  assert.ok(seen.has('agent/idle-decoder.ts'));
});

test('the agent bundle is one file whose plain source text holds only what an idle agent runs: cold code (systeminformation, zod, yaml, luxon, node-schedule, scenarios) is packed', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const { buildAgent } = (await import(join(REPO, 'scripts', 'build-agent.mjs'))) as {
    buildAgent(o: { outDir: string; quiet: boolean }): Promise<{ file: string; metafile: { inputs: Record<string, unknown> }; coldMetafile: { inputs: Record<string, unknown> } }>;
  };
  const r = await buildAgent({ outDir: dir, quiet: true });
  assert.deepEqual(readdirSync(dir).sort(), ['arcsim-agent.cjs', 'arcsim-agent.sources.json'], 'one artifact (and the list of its sources)');
  // V8 keeps a script's whole source text for the life of the process (docs/performance.md, fifth pass).
  const COLD = /node_modules\/(systeminformation|zod|yaml|luxon|node-schedule|cron-parser)\/|^scenarios\/(schema|loader|player|index)\.ts$|^agent\/(inventory|host-facts|schedule-file|agent-config|persona)\.ts$/;
  assert.deepEqual(Object.keys(r.metafile.inputs).filter((f) => COLD.test(f)), [], 'no cold module in the plain part');
  for (const pkg of ['systeminformation', 'zod', 'yaml', 'luxon', 'node-schedule']) {
    assert.ok(Object.keys(r.coldMetafile.inputs).some((f) => f.includes(`node_modules/${pkg}/`)), `${pkg} is in the packed part`);
  }
  const text = readFileSync(r.file, 'utf8');
  assert.ok(text.length < 900_000, `the file is ${text.length} characters (1.5 MB before the cold part was packed)`);
  // Strings only systeminformation / zod carry in clear: the packed part is compressed.
  for (const marker of ['getStaticData', 'ZodError']) assert.ok(!text.includes(marker), `${marker} is not in the file's plain text`);
});

// Sixth pass (docs/performance.md): as an ES module (`.mjs`), the file made Node load its ESM loader
// and, through it, readline and fs/promises (~0.9 MB of an idle agent).
test('the agent bundle is a CommonJS script: run as the unit runs it, Node loads no ES module loader, readline or fs/promises for it', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const { buildAgent } = (await import(join(REPO, 'scripts', 'build-agent.mjs'))) as { buildAgent(o: { outDir: string; quiet: boolean }): Promise<{ file: string }> };
  const { file } = await buildAgent({ outDir: dir, quiet: true });
  const probe = join(dir, 'probe.cjs');
  writeFileSync(probe, "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(process.moduleLoadList) + '\\n'));\n");
  const r = spawnSync(process.execPath, [...UNIT_NODE_ARGS, '--require', probe, file, '--help'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: arcsim-agent/);
  const loaded = JSON.parse(/^LOADED (.*)$/m.exec(r.stderr)?.[1] ?? 'null') as string[];
  assert.deepEqual(loaded.filter((m) => /internal\/modules\/esm\/loader|internal\/readline\/interface|internal\/fs\/promises/.test(m)), []);
});

test('an idle agent, run as the systemd unit runs it, keeps WebAssembly (for fetch) and never compiles code with new Function (zod without its JIT)', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  // Loaded before the agent in each of its processes: counts `new Function` / `Function()` (what
  // zod's JIT uses to compile an object parser on its first parse) and reports the zod settings.
  const preload = join(dir, 'probe.cjs');
  writeFileSync(preload, `
const fs = require('node:fs');
let compiled = 0;
const Real = globalThis.Function;
globalThis.Function = new Proxy(Real, { construct(t, a, n) { compiled++; return Reflect.construct(t, a, n); }, apply(t, s, a) { compiled++; return Reflect.apply(t, s, a); } });
const report = () => fs.writeFileSync(${JSON.stringify(dir)} + '/probe-' + process.pid + '.json', JSON.stringify({
  argv: process.argv.slice(2), execArgv: process.execArgv, wasm: typeof WebAssembly, compiled, jitless: globalThis.__zod_globalConfig?.jitless ?? null,
  // zod sets this when its code is evaluated (zod/v4/core/registries.js): the idle agent never does.
  zodLoaded: globalThis.__zod_globalRegistry !== undefined, cold,
}));
// The bundle's packed cold part is evaluated with node:vm's runInThisContext (scripts/build-agent.mjs).
let cold = 0;
const vm = require('node:vm');
const run = vm.runInThisContext;
vm.runInThisContext = function (code, o) { if (String(o && o.filename).includes('(cold part)')) cold++; return run.call(this, code, o); };
require('node:module').syncBuiltinESMExports();
setInterval(report, 200).unref();
process.on('exit', report);
`);
  const r = await measureAgentFootprint({ durationMs: 3_000, heartbeatIntervalSec: 1, nodeArgs: [...UNIT_NODE_ARGS, '--require', preload], log: () => undefined });
  assert.ok(r.heartbeats >= 1, `the agent heartbeated (${r.heartbeats})`);
  const probes = readdirSync(dir).filter((f) => f.startsWith('probe-')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
    argv: string[]; execArgv: string[]; wasm: string; compiled: number; jitless: boolean | null; zodLoaded: boolean; cold: number;
  });
  const service = probes.find((p) => p.argv[0] === 'run');
  assert.ok(service, `the service process reported (${JSON.stringify(probes)})`);
  // Node's fetch (undici: the cloud metadata probes) needs WebAssembly, which V8's --lite-mode and
  // --jitless turn off: memory flags in UNIT_NODE_ARGS must leave it on.
  assert.equal(service.wasm, 'object', `WebAssembly is there for fetch (node ${service.execArgv.join(' ')})`);
  assert.equal(service.compiled, 0, 'no code compiled at run time while registering and heartbeating');
  assert.equal(service.jitless, true, 'zod is configured without its JIT in the agent (for when a command loads it)');
  assert.equal(service.zodLoaded, false, 'an idle agent never evaluates zod (agent/idle-decoder.ts decodes and encodes its frames)');
  assert.equal(service.cold, 0, 'an idle agent never unpacks the bundle\'s cold part');
});

test('an idle agent, run as the systemd unit runs it, never compiles JavaScript to machine code (TurboFan or Sparkplug), even a hot function (ws masks every frame in a JavaScript loop)', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  // The first TurboFan compilation of a process pages ~3.3 MB of the compiler's code in from the
  // node binary, resident for good (docs/performance.md, "fifth pass"). In the agent it came from
  // ws's `_mask` (no bufferutil in the bundle) once the first events batch had gone through it.
  // This preload runs the same kind of loop in the service process until V8 would have optimized
  // it several times over, then asks V8 (natives syntax) which tier the function reached.
  const preload = join(dir, 'tier.cjs');
  writeFileSync(preload, `
const fs = require('node:fs');
function mask(source, key, output) { for (let i = 0; i < source.length; i++) output[i] = source[i] ^ key[i & 3]; }
const source = new Uint8Array(1024), key = new Uint8Array([1, 2, 3, 4]), output = new Uint8Array(1024);
let rounds = 0;
const timer = setInterval(() => {
  for (let k = 0; k < 200; k++) mask(source, key, output);
  if (++rounds < 25) return;
  clearInterval(timer);
  // V8's OptimizationStatus bits: 16 optimized, 64 TurboFan, 128 interpreted, 32768 baseline (Sparkplug).
  const status = %GetOptimizationStatus(mask);
  if (process.argv[2] === 'run') fs.writeFileSync(${JSON.stringify(dir)} + '/tier.json', JSON.stringify({ status, execArgv: process.execArgv }));
}, 40);
timer.unref();
`);
  const r = await measureAgentFootprint({
    durationMs: 2_500, heartbeatIntervalSec: 1, nodeArgs: [...UNIT_NODE_ARGS, '--allow-natives-syntax', '--require', preload], log: () => undefined,
  });
  assert.ok(r.heartbeats >= 1, `the agent heartbeated (${r.heartbeats})`);
  const { status, execArgv } = JSON.parse(readFileSync(join(dir, 'tier.json'), 'utf8')) as { status: number; execArgv: string[] };
  assert.equal(status & (16 | 64), 0, `the hot loop was not optimized by TurboFan (status ${status}, node ${execArgv.join(' ')})`);
  assert.equal(status & 32768, 0, `the hot loop was not compiled by Sparkplug either (status ${status})`);
  assert.notEqual(status & 128, 0, `the hot loop runs in the interpreter (status ${status})`);
});

test('the agent bundle, run as the unit runs it, unpacks its cold part for a run-scenario command: plays a library scenario and refuses a bad one with the scenario format\'s message', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const { buildAgent } = (await import(join(REPO, 'scripts', 'build-agent.mjs'))) as { buildAgent(o: { outDir: string; quiet: boolean }): Promise<{ file: string }> };
  const { file } = await buildAgent({ outDir: join(dir, 'bundle'), quiet: true });
  const store = openSqliteStore({ file: join(dir, 'arcsim.db') });
  const cp = createControlPlane({ store, config: { port: 0 } });
  t.after(async () => { await cp.close(); await store.close(); });
  const url = await cp.listen();
  const token = await cp.createToken({ subscription: 'bundle', resourceGroup: 'cold' });
  const registered = new Promise<void>((resolve) => cp.once('registered', () => resolve()));
  const child = fork(file, ['run', '--control-plane', url, '--token', token.token, '--state-dir', join(dir, 'agent')], {
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: UNIT_NODE_ARGS, env: { ...process.env, ...UNIT_ENVIRONMENT, ARCSIM_LOG_LEVEL: 'error' },
  });
  t.after(async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } });
  await registered;
  const [machine] = await store.machines.listMachines();
  assert.ok(machine, 'the bundle agent registered');
  const scenario = readYaml(readFileSync(join(REPO, 'scenarios', 'library', 'fileless-attack-linux.yaml'), 'utf8')).value as Record<string, unknown>;
  const ok = await cp.command(machine.agentId, { action: 'run-scenario', scenario, detonationId: 'dt-cold', speed: 100 }, 30_000);
  assert.equal(ok.ok, true, JSON.stringify(ok));
  const bad = await cp.command(machine.agentId, { action: 'run-scenario', scenario: { ...scenario, steps: 'nope' }, detonationId: 'dt-cold-bad' }, 30_000);
  assert.equal(bad.ok, false);
  assert.match(String((bad as { message?: string }).message), /steps.*not part of the scenario format/);
});
