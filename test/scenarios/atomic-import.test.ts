import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { importAtomic, importAtomicFile, scenarioToYaml } from '../../scenarios/atomic-import.ts';
import { parseScenario, planRun } from '../../scenarios/index.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'atomic');

test('an Atomic Red Team file imports into valid scenarios describing what each test would run', () => {
  const cron = importAtomicFile(join(FIXTURES, 'T1053.003.yaml'));
  assert.deepEqual(cron.scenarios.map((s) => s.slug), [
    'atomic-t1053-003-1-cron-replace-crontab-with-referenced-file',
    'atomic-t1053-003-2-cron-add-script-to-all-cron-subfolders',
    'atomic-t1053-003-3-cron-add-script-to-var-spool-cron-crontabs-folder',
  ]);
  assert.deepEqual(cron.skipped.map((s) => s.test), ['T1053.003 test 4 "Cron - Inspect crontabs by hand"'], 'the manual test has no command');
  assert.match(cron.notes.join('\n'), /"unused_note" is not used by any command and was dropped/);

  const [first, second, third] = cron.scenarios;
  assert.equal(first!.id, '435057fb-74b1-410e-9403-d81baf194f75', 'the ART guid is the scenario id');
  assert.deepEqual(first!.techniques, ['T1053.003']);
  assert.deepEqual(first!.platforms, ['linux', 'onprem', 'aws', 'gcp', 'azure'], 'macos is not an arcsim platform');
  assert.deepEqual(Object.keys(first!.inputs), ['command', 'tmp_cron']);
  assert.equal(first!.inputs.tmp_cron!.default, '/tmp/persistevil');
  assert.equal(third!.warmup.length, 1, 'dependencies become warmup checks');
  assert.equal(second!.cleanup.length, 1, 'cleanup_command becomes the cleanup phase');

  // Played, the events are the executor's process with the command line, inputs filled in.
  const plan = planRun(second!, { detonationId: 'd', device: { id: 'a', name: 'h' }, startTime: Date.UTC(2026, 0, 1), inputs: { cron_script_name: 'x1' } });
  assert.deepEqual(plan.events.map((p) => p.phase), ['detonate', 'cleanup']);
  const ev = plan.events[0]!.event as any;
  assert.equal(ev.Table, 'DeviceProcessEvents');
  assert.equal(ev.FileName, 'bash');
  assert.equal(ev.AccountName, 'root', 'elevation_required');
  assert.equal(ev.InitiatingProcessCommandLine, 'pwsh -Command "Invoke-AtomicTest T1053.003 -TestNumbers 2"');
  // The script is quoted as written; argument values are filled in afterwards, as Invoke-AtomicTest does.
  assert.match(ev.ProcessCommandLine, /^bash -c 'echo "echo 'Hello from Atomic Red Team' > \/tmp\/atomic.log" > \/etc\/cron.daily\/x1\n/);
  assert.match((plan.events[1]!.event as any).ProcessCommandLine, /rm \/etc\/cron.weekly\/x1 -f'$/);

  // Written back as YAML, each re-validates as a scenario file.
  for (const s of cron.scenarios) assert.deepEqual(parseScenario(scenarioToYaml(s), `${s.slug}.yaml`), s);
});

test('PowerShell tests import as Windows scenarios; PathToAtomicsFolder and arguments are resolved', () => {
  const ps = importAtomicFile(join(FIXTURES, 'T1059.001.yaml'));
  assert.equal(ps.scenarios.length, 2);
  const bh = ps.scenarios[0]!;
  assert.deepEqual(bh.platforms, ['windows', 'onprem', 'aws', 'gcp', 'azure']);
  // Invoke-AtomicRedTeam's Merge-InputArgs fills in the arguments first, then replaces
  // PathToAtomicsFolder in the whole command: a default that names it is resolved too.
  assert.equal(bh.inputs.file_path!.default, 'C:\\AtomicRedTeam\\atomics\\..\\ExternalPayloads');
  const events = planRun(bh, { detonationId: 'd', device: { id: 'a', name: 'h' }, startTime: 0 }).events.map((p) => p.event as any);
  assert.equal(events[0].FileName, 'powershell.exe');
  assert.match(events[0].ProcessCommandLine, /Test-Path C:\\AtomicRedTeam\\atomics\\\.\.\\ExternalPayloads/);
  assert.doesNotMatch(events[0].ProcessCommandLine, /PathToAtomicsFolder/);
  assert.match(events[1].ProcessCommandLine, /^"powershell.exe" & \{write-host .*; IEX \(New-Object Net.Webclient\).DownloadString/);
});

test('the ART model is strict: unknown keys are refused with their path', () => {
  assert.throws(() => importAtomic('attack_technique: T1000\ndisplay_name: x\natomic_tests:\n- name: a\n  supported_platforms: [linux]\n  executor: {name: sh, command: id, timeout: 5}\n'),
    (e: any) => e.code === 'ARCSIM_E_SCENARIO_UNKNOWN_KEY' && e.path === 'atomic_tests.0.executor.timeout');
});

test('an argument named in a dependency description is renamed like the commands (real ART T1003.007 test 4)', () => {
  // Published ART: the first dependency of "Capture Passwords with MimiPenguin" says
  // "MimiPenguin script must exist on disk at specified location (#{MimiPenguin_Location})".
  const r = importAtomicFile(join(import.meta.dirname, '..', 'fixtures', 'atomic-real', 'T1003.007.yaml'));
  const mimi = r.scenarios.find((s) => s.name.endsWith('Capture Passwords with MimiPenguin'));
  assert.ok(mimi, `test 4 is imported, not skipped: ${JSON.stringify(r.skipped)}`);
  assert.ok(Object.keys(mimi.inputs).includes('mimipenguin_location'));
  const plan = planRun(mimi, { detonationId: 'd', device: { id: 'a', name: 'h' }, startTime: Date.UTC(2026, 0, 1), inputs: {} });
  const check = plan.events.find((p) => p.phase === 'warmup')!.event as any;
  assert.match(check.ProcessCommandLine, /if \[ -f "\/opt\/AtomicRedTeam\/atomics\/\.\.\/ExternalPayloads\/mimipenguin\/mimipenguin\.sh" \]/);
  assert.equal(r.skipped.filter((s) => s.reason.includes('ARCSIM_E_SCENARIO_MISSING_ARGUMENT')).length, 0);
});
