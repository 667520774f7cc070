import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules } from '../../control-plane/detection/index.ts';
import { loadConfigFile } from '../../control-plane/config-file.ts';
import { parseScenario } from '../../scenarios/index.ts';
import { parseSuite } from '../../testruns/index.ts';
import { ArcsimError } from '../../protocol/errors.ts';
import { readYaml, YAML_LIMITS } from '../../lib/yaml.ts';
import { cleanup, tempDir } from '../helpers.ts';

// Issue 12 item 9, found case: a YAML alias bomb ("billion laughs") gave an error without an
// ARCSIM_E_* code. Nine levels of nine aliases expand to 9^9 (~387 million) strings.
const BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((k, i) => { const p = 'abcdefghi'[i]!; return `${k}: &${k} [${Array(9).fill(`*${p}`).join(',')}]`; })].join('\n') + '\n';

const typed = (code: string) => (err: unknown) => {
  assert.ok(err instanceof ArcsimError, `an ArcsimError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  assert.equal(err.code, code);
  assert.match(err.message, /alias/);
  return true;
};

test('an alias bomb in a rule, scenario, suite or config file gets that file kind\'s typed YAML code, fast', (t) => {
  const started = performance.now();
  assert.throws(() => loadRules([{ file: 'bomb.yml', text: BOMB }]), typed('ARCSIM_E_RULE_YAML'));
  assert.throws(() => parseScenario(BOMB, 'bomb.yaml'), typed('ARCSIM_E_SCENARIO_YAML'));
  assert.throws(() => parseSuite(BOMB, { file: 'bomb.yaml' }), typed('ARCSIM_E_SUITE_YAML'));
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'control-plane.yaml');
  writeFileSync(file, BOMB);
  assert.throws(() => loadConfigFile(file), typed('ARCSIM_E_CONFIG_YAML'));
  assert.ok(performance.now() - started < 5000, 'refused without expanding it');
});

test('ordinary anchors and aliases are still data (YAML anchors are legitimate in rule and suite files)', () => {
  const ok = ['base: &b {x: 1, y: [a, b]}', ...Array.from({ length: 20 }, (_, i) => `k${i}: *b`)].join('\n');
  const doc = readYaml(ok);
  assert.deepEqual(doc.errors, []);
  assert.deepEqual((doc.value as Record<string, unknown>).k19, { x: 1, y: ['a', 'b'] });
  assert.equal(readYaml(BOMB).errors[0]?.code, 'RESOURCE_EXHAUSTION');
  assert.ok(YAML_LIMITS.maxAliasCount > 0);
});
