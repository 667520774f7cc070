import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadLibrary } from '../../scenarios/index.ts';
import { cleanup, tempDir } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

test('arcsim lab --exit: real host, every library scenario, each expected alert exactly once, exit 0', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const started = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'lab', '--exit', '--port', '0', '--data-dir', dir, '--rounds', '2'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(Date.now() - started < 30_000, 'the lab stays quick');
  const out = r.stdout;
  const library = [...loadLibrary().values()];
  const expected = library.flatMap((s) => s.expect.alerts.map((a) => ({ slug: s.slug, alertType: a.alertType })));
  assert.match(out, new RegExp(`PASS: ${expected.length}/${expected.length} expected alerts raised exactly once`));
  assert.match(out, /benign twins raised 0/);
  // Every scenario and its twin played in both rounds.
  for (const s of library) {
    for (const round of [1, 2]) assert.match(out, new RegExp(`round ${round}/2  attack  ${s.slug} `));
  }
  const alertTable = out.split('Alerts (')[1]!.split('Expectations')[0]!;
  for (const { alertType } of expected) assert.match(alertTable, new RegExp(`^${alertType.replace(/\./g, '\\.')} `, 'm'));
  const checks = out.split('Expectations')[1]!.split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
  assert.equal(checks.length, expected.length);
  assert.ok(checks.every((l) => l.startsWith('PASS')));
  // Two rounds fold into one alert per expectation: "1 (1)", with a count of at least 2.
  for (const l of checks) assert.match(l, /\s1 \(1\)\s+([2-9]|\d\d)$/);
});

test('CLI usage errors are clear and exit non-zero', () => {
  const r = spawnSync(process.execPath, [BIN, 'lab', '--port', 'seventy'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /TCP port/);
  const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const cmd of ['lab', 'control-plane', 'agent', 'token', 'scenario']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
});
