import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLibrary, planEvents } from '../../scenarios/index.ts';
import { cleanup, tempDir } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'detect', ...args], { encoding: 'utf8', timeout: 30_000 });

test('arcsim detect: recorded events in, alerts out; exit code says whether the scenario expectation held', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const lib = loadLibrary();
  const write = (name: string, slug: string, variant: 'attack' | 'benign', reverse = false) => {
    const lines = planEvents(lib.get(slug)!, { variant, detonationId: 'rec', device: { id: 'agent-1', name: 'web-01' }, startTime: Date.UTC(2026, 0, 1), seed: 5 })
      .map((p) => JSON.stringify(p.event));
    if (reverse) lines.reverse();
    writeFileSync(join(dir, name), lines.join('\n') + '\n');
    return join(dir, name);
  };
  const attack = write('attack.ndjson', 'ssh-brute-force-failed', 'attack', true); // out of order on purpose
  const benign = write('benign.ndjson', 'ssh-brute-force-failed', 'benign');

  const ok = run('--events', attack, '--scenario', 'ssh-brute-force-failed', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  assert.equal(out.events, 10);
  assert.deepEqual(out.alerts.map((a: any) => a.alertType), ['VM_SshBruteForceFailed']);
  assert.equal(out.ok, true);

  const missing = run('--events', benign, '--scenario', 'ssh-brute-force-failed');
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, /FAIL {2}VM_SshBruteForceFailed: 0 alert\(s\), expected 1/);
  assert.equal(run('--events', benign, '--scenario', 'ssh-brute-force-failed', '--benign').status, 0);
  // The PowerShell events raise nothing the brute-force scenario expects: an unexpected alert fails.
  const other = write('ps.ndjson', 'suspicious-powershell-encoded', 'attack');
  const wrong = run('--events', other, '--scenario', 'ssh-brute-force-failed');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stdout, /unexpected MDE_SuspiciousPowerShellCommandLine/);

  writeFileSync(join(dir, 'bad.ndjson'), '{"Table":"DeviceLogonEvents"}\n');
  const bad = run('--events', join(dir, 'bad.ndjson'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /ARCSIM_E_VALIDATION: .*bad\.ndjson:1/);
});
