import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadLibrary } from '../../scenarios/index.ts';
import { codesOf } from '../../protocol/index.ts';
import { validateFiles } from '../../cli/scenario.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'scenarios');
const arcsim = (...args: string[]) => spawnSync(process.execPath, [BIN, 'scenario', ...args], { encoding: 'utf8' });

test('arcsim scenario validate passes the whole library', () => {
  const r = arcsim('validate');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const n = loadLibrary().size;
  assert.match(r.stdout, new RegExp(`^${n}/${n} valid$`, 'm'));
  assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('ok ')).length, n);
});

test('arcsim scenario validate fails each bad fixture with its code and path (text and --json)', () => {
  const r = arcsim('validate', FIXTURES, '--json');
  assert.equal(r.status, 1);
  const results = JSON.parse(r.stdout) as Array<{ file: string; ok: boolean; code: string; path: string }>;
  assert.equal(results.length, codesOf('scenario').length);
  for (const res of results) {
    assert.equal(res.ok, false);
    assert.equal(res.code, res.file.split('/').at(-1)!.replace('.yaml', ''));
    if (res.code !== 'ARCSIM_E_SCENARIO_YAML') assert.ok(res.path, `${res.file} names a path`);
  }
  let text = '';
  assert.equal(validateFiles([join(FIXTURES, 'ARCSIM_E_SCENARIO_TIMING.yaml')], {}, (t) => (text += t)), 1);
  assert.match(text, /^FAIL {2}.*ARCSIM_E_SCENARIO_TIMING.yaml\n {6}ARCSIM_E_SCENARIO_TIMING at detonate\.0\.jitter: /m);
});
