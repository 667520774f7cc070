import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSuiteFile, parseSuite } from '../../testruns/index.ts';
import { ArcsimErrors, codesOf, type ErrorCode } from '../../protocol/index.ts';
import { EXAMPLES } from './helpers.ts';

const refused = (text: string): Array<{ code: string; path: string | undefined }> => {
  try {
    parseSuite(text, { file: 'bad.yaml', baseDir: EXAMPLES });
  } catch (err) {
    assert.ok(err instanceof ArcsimErrors, String(err));
    return err.errors.map((e) => ({ code: e.code, path: e.path }));
  }
  assert.fail('the suite was accepted');
};

const base = (scenarios: string, extra = '') => `
name: t
hosts:
  h: { cloud: onprem }
scenarios:
${scenarios}
${extra}`;

test('the shipped example suites validate', () => {
  const onprem = loadSuiteFile(join(EXAMPLES, 'onprem.yaml'));
  assert.equal(onprem.scenarios.length, 8);
  assert.equal(onprem.sync?.profile, 'mdc-classic');
  // Benign runs default to "no alert at all"; attack runs to the scenario's own expectations when not written.
  assert.deepEqual(onprem.scenarios.find((s) => s.id === 'ssh-brute-force-benign')!.expect.alerts, []);
  assert.equal(onprem.scenarios.find((s) => s.id === 'ssh-brute-force-faults')!.inputs.attacker_ip, '203.0.113.77');
  const multi = loadSuiteFile(join(EXAMPLES, 'multi-cloud.yaml'));
  assert.deepEqual(Object.keys(multi.hosts), ['onprem', 'ec2', 'gcp', 'eks', 'cloud-sql']);
  assert.deepEqual(multi.hosts.ec2, { description: multi.hosts.ec2!.description, cloud: 'aws', persona: 'ec2-sql-server' });
  // Every run with an expectation beyond alerts: dedup (occurrences), sync, incidents, faults, the asset merge.
  assert.equal(multi.scenarios.find((s) => s.id === 'ssh-brute-force')!.expect.alerts[0]!.occurrences, 2);
  assert.ok(multi.scenarios.find((s) => s.id === 'powershell-encoded')!.expect.statusChanges?.length);
  assert.ok(multi.scenarios.find((s) => s.id === 'ec2-faults')!.faults?.dropConnection);
  assert.deepEqual(multi.scenarios.find((s) => s.id === 'asset-merge')!.expect.asset, { count: 1, sources: 2 });
  assert.deepEqual(multi.incidents.map((i) => i.expect), ['separate', 'separate', 'same']);
  // The Sentinel-hub rows ask for their own profile.
  assert.deepEqual(multi.scenarios.filter((s) => s.sync).map((s) => [s.id, s.sync!.profile]), [['sentinel-hub-mining', 'sentinel-hub'], ['sentinel-hub-admin-logon', 'sentinel-hub']]);
});

test('a bad suite is refused before anything runs: one case per ARCSIM_E_SUITE_* code, each with its path', () => {
  const cases: Array<[ErrorCode, string, string]> = [
    ['ARCSIM_E_SUITE_YAML', 'name: [unclosed', ''],
    ['ARCSIM_E_SUITE_SCHEMA', base('  - { id: a, scenario: ssh-brute-force-failed, hosts: [h], rounds: 0 }'), 'scenarios.0.rounds'],
    ['ARCSIM_E_SUITE_UNKNOWN_KEY', base('  - { id: a, scenario: ssh-brute-force-failed, hosts: [h], expect: { alerts: [], colour: red } }'), 'scenarios.0.expect.colour'],
    ['ARCSIM_E_SUITE_SCENARIO', base('  - { id: a, scenario: no-such-scenario, hosts: [h] }'), 'scenarios.0.scenario'],
    ['ARCSIM_E_SUITE_INPUT', base('  - { id: a, scenario: ssh-brute-force-failed, hosts: [h], inputs: { attempts: many } }'), 'scenarios.0.inputs.attempts'],
    ['ARCSIM_E_SUITE_REFERENCE', base('  - { id: a, scenario: ssh-brute-force-failed, hosts: [h, nowhere] }'), 'scenarios.0.hosts.1'],
    ['ARCSIM_E_SUITE_DUPLICATE', base('  - { id: a, scenario: ssh-brute-force-failed, hosts: [h] }\n  - { id: a, scenario: suspicious-powershell-encoded, hosts: [h] }'), 'scenarios.1.id'],
    ['ARCSIM_E_SUITE_EXPECTATION', base(`  - id: a
    scenario: suspicious-powershell-encoded
    hosts: [h]
    expect:
      alerts: [{ alertType: MDE_SuspiciousPowerShellCommandLine }]
      statusChanges: [{ alertType: MDE_SuspiciousPowerShellCommandLine, action: dismiss, in: M365D, expect: { MDC: Active } }]`), 'scenarios.0.expect.statusChanges.0'],
  ];
  assert.deepEqual(cases.map((c) => c[0]).sort(), codesOf('suite').sort(), 'every code has a case');
  for (const [code, text, path] of cases) {
    const errors = refused(text);
    assert.equal(errors[0]!.code, code, `${code}: got ${JSON.stringify(errors)}`);
    assert.equal(errors[0]!.path ?? '', path, code);
  }
});

test('every problem of a suite is reported at once, in file order', () => {
  const errors = refused(base(`  - { id: a, scenario: nope, hosts: [h] }
  - { id: b, scenario: ssh-brute-force-failed, hosts: [x], variant: benign, inputs: { colour: red } }`, `incidents:
  - { id: i, hosts: [h], alerts: [{ run: zz, alertType: A }, { run: b, alertType: B }] }`));
  assert.deepEqual(errors, [
    { code: 'ARCSIM_E_SUITE_SCENARIO', path: 'scenarios.0.scenario' },
    { code: 'ARCSIM_E_SUITE_REFERENCE', path: 'scenarios.1.hosts.0' },
    { code: 'ARCSIM_E_SUITE_INPUT', path: 'scenarios.1.inputs.colour' },
    { code: 'ARCSIM_E_SUITE_REFERENCE', path: 'incidents.0.alerts.0.run' },
    { code: 'ARCSIM_E_SUITE_EXPECTATION', path: 'incidents.0.alerts.1.alertType' },
  ]);
});
