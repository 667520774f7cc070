import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, tempDir } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
const arcsim = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

const good = (id: string, title: string) => `title: ${title}\nid: ${id}\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  s:\n    CommandLine|contains: mimikatz\n  condition: s\nlevel: high\n`;

function rulesTree(dir: string): void {
  // Nested like SigmaHQ's rules/windows/registry/registry_set/...
  mkdirSync(join(dir, 'windows', 'process_creation'), { recursive: true });
  mkdirSync(join(dir, 'windows', 'registry', 'registry_set'), { recursive: true });
  writeFileSync(join(dir, 'windows', 'process_creation', 'a.yml'), good('5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b01', 'Good A'));
  writeFileSync(join(dir, 'windows', 'registry', 'registry_set', 'b.yml'),
    "title: Good B\nid: 5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b02\nlogsource:\n  category: registry_set\n  product: windows\ndetection:\n  s:\n    TargetObject|contains: '\\CurrentVersion\\Run\\'\n  condition: s\n");
  writeFileSync(join(dir, 'windows', 'process_creation', 'c.yml'),
    "title: Bad C\nid: 5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b03\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  s:\n    CommandLine: x\n  filter:\n    FileVersion|startswith: '7.0.'\n  condition: s and not filter\n");
}

test('arcsim rules check: reads folders recursively, reports each rule, exit 0 only when none is refused', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  rulesTree(dir);
  const r = arcsim('rules', 'check', dir, '--json');
  assert.equal(r.status, 1, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(out), ['loaded', 'refused', 'rules']);
  assert.equal(out.loaded, 2);
  assert.equal(out.refused, 1);
  for (const rule of out.rules) assert.deepEqual(Object.keys(rule), ['file', 'id', 'title', 'status', 'code', 'message']);
  const bad = out.rules.find((x: any) => x.status === 'refused');
  assert.equal(bad.title, 'Bad C');
  assert.equal(bad.code, 'ARCSIM_E_RULE_FIELD');
  assert.match(bad.file, /process_creation[/\\]c\.yml$/);
  assert.match(bad.message, /^line 10: .*FileVersion/, 'the line of the construct and the field');

  const text = arcsim('rules', 'check', dir);
  assert.equal(text.status, 1);
  assert.match(text.stdout, /REFUSED {2}.*c\.yml:10 {2}ARCSIM_E_RULE_FIELD/);
  assert.match(text.stdout, /2 loaded, 1 refused/);

  const clean = arcsim('rules', 'check', join(dir, 'windows', 'registry'), '--json');
  assert.equal(clean.status, 0);
  assert.deepEqual(JSON.parse(clean.stdout), { loaded: 1, refused: 0, rules: [{ file: join(dir, 'windows', 'registry', 'registry_set', 'b.yml'), id: '5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b02', title: 'Good B', status: 'loaded', code: null, message: null }] });
});

test('arcsim detect loads every rule that loads and prints the refused count; --strict makes a refusal fatal', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  rulesTree(dir);
  const events = join(dir, 'events.ndjson');
  writeFileSync(events, JSON.stringify({ Table: 'DeviceProcessEvents', Timestamp: '2026-03-01T10:00:00.000Z', DeviceId: 'd1', DeviceName: 'ws-01', ActionType: 'ProcessCreated', ReportId: '01954f5a-7c00-7000-8000-000000000001', ProcessCommandLine: 'mimikatz.exe sekurlsa::logonpasswords' }) + '\n');
  const r = arcsim('detect', '--events', events, '--rules', dir, '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /1 of 3 rule\(s\) refused, the others loaded; see which and why: arcsim rules check /);
  assert.deepEqual(JSON.parse(r.stdout).alerts.map((a: any) => a.properties.alertDisplayName), ['Good A']);
  const strict = arcsim('detect', '--events', events, '--rules', dir, '--strict');
  assert.equal(strict.status, 1);
  assert.match(strict.stderr, /ARCSIM_E_RULE_FIELD/);
});
