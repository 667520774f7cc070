import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cleanup, tempDir } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

test('arcsim lab --exit: real host, both expected alerts exactly once, exit 0', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const r = spawnSync(process.execPath, [BIN, 'lab', '--exit', '--port', '0', '--data-dir', dir, '--rounds', '2'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const out = r.stdout;
  for (const name of ['Failed SSH brute force attack', 'Suspicious PowerShell CommandLine']) {
    assert.equal(out.split(name).length - 1, 1, `"${name}" is printed once in the alert table`);
  }
  assert.match(out, /PASS: 2\/2 expected alerts raised exactly once/);
  assert.match(out, /benign twins raised 0/);
  // Two rounds fold into a count of 2 on each alert.
  const alertRows = out.split('Alerts (')[1]!.split('Expectations')[0]!.split('\n').filter((l) => /^(VM_|MDE_)/.test(l));
  assert.equal(alertRows.length, 2);
  for (const row of alertRows) assert.match(row, /\s2\s/);
});

test('CLI usage errors are clear and exit non-zero', () => {
  const r = spawnSync(process.execPath, [BIN, 'lab', '--port', 'seventy'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /TCP port/);
  const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const cmd of ['lab', 'control-plane', 'agent', 'token', 'scenario']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
});
