import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules, loadRulesDir } from '../../control-plane/detection/index.ts';
import { ArcsimError } from '../../protocol/errors.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'rules');

function rule(detection: string, extra = ''): string {
  return `title: t
id: 5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b01
status: test
level: low
logsource:
  category: process_creation
detection:
${detection}
${extra}`;
}

const matches = (text: string, event: Record<string, unknown>) => {
  const set = loadRules([{ file: 'inline.yml', text }]);
  return set.detections[0]!.match({ Table: 'DeviceProcessEvents', ...event });
};

test('the shipped rules load and every rule file name matches its rule name', () => {
  const set = loadRulesDir();
  assert.ok(set.detections.length >= 2 && set.correlations.length >= 1);
  for (const r of [...set.detections, ...set.correlations]) {
    assert.ok(r.name, `${r.title} has a name`);
    assert.ok(r.file.endsWith('.yml'));
  }
  const names = new Set([...set.detections, ...set.correlations].map((r) => r.name));
  for (const f of readdirSync(join(import.meta.dirname, '..', '..', 'control-plane', 'detection', 'rules'))) {
    assert.ok(names.has(f.replace(/\.yml$/, '')), `${f} is named after a rule in it`);
  }
});

test('maps are AND, lists are OR, strings compare case-insensitively', () => {
  const r = rule(`  sel:
    Image|endswith: ['\\powershell.exe', '\\pwsh.exe']
    CommandLine|contains: ' -enc '
  condition: sel`);
  assert.equal(matches(r, { FolderPath: 'C:\\Windows\\PowerShell.EXE', ProcessCommandLine: 'powershell -ENC abc' }), true);
  assert.equal(matches(r, { FolderPath: 'C:\\Windows\\pwsh.exe', ProcessCommandLine: 'pwsh -File x' }), false);
  assert.equal(matches(r, { FolderPath: 'C:\\Windows\\cmd.exe', ProcessCommandLine: 'x -enc y' }), false);
});

test('modifiers: all, startswith, re, cidr, windash, base64offset|contains, exists, wildcards, null', () => {
  assert.equal(matches(rule(`  s:\n    CommandLine|contains|all: [' -nop', ' -w hidden']\n  condition: s`), { ProcessCommandLine: 'ps -NoP -W Hidden' }), true);
  assert.equal(matches(rule(`  s:\n    CommandLine|contains|all: [' -nop', ' -w hidden']\n  condition: s`), { ProcessCommandLine: 'ps -NoP' }), false);
  assert.equal(matches(rule(`  s:\n    CommandLine|startswith: 'cmd.exe /c'\n  condition: s`), { ProcessCommandLine: 'CMD.EXE /c whoami' }), true);
  assert.equal(matches(rule(`  s:\n    CommandLine|re: '^cmd\\.exe /[ck] '\n  condition: s`), { ProcessCommandLine: 'cmd.exe /k dir' }), true);
  assert.equal(matches(rule(`  s:\n    CommandLine|re: '^cmd\\.exe /[ck] '\n  condition: s`), { ProcessCommandLine: 'CMD.EXE /k dir' }), false, 're is case-sensitive');
  const cidr = `logsource:\n  category: network_connection\n`;
  const net = loadRules([{ file: 'n.yml', text: `title: n\nid: 5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b02\nstatus: test\nlevel: low\n${cidr}detection:\n  s:\n    DestinationIp|cidr: 10.0.0.0/8\n  condition: not s\n` }]);
  assert.equal(net.detections[0]!.match({ RemoteIP: '10.1.2.3' }), false);
  assert.equal(net.detections[0]!.match({ RemoteIP: '203.0.113.9' }), true);
  const windash = rule(`  s:\n    CommandLine|windash|contains: ' -encodedcommand '\n  condition: s`);
  for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) {
    assert.equal(matches(windash, { ProcessCommandLine: `powershell ${dash}EncodedCommand abc` }), true, `dash ${dash}`);
  }
  const b64 = rule(`  s:\n    CommandLine|base64offset|contains: 'http://'\n  condition: s`);
  for (const prefix of ['', 'a', 'ab']) {
    const encoded = Buffer.from(`${prefix}curl http://x`).toString('base64');
    assert.equal(matches(b64, { ProcessCommandLine: `bash -c "echo ${encoded} | base64 -d | sh"` }), true, `offset ${prefix.length}`);
  }
  assert.equal(matches(rule(`  s:\n    SHA256|exists: true\n  condition: s`), { SHA256: 'ab' }), true);
  assert.equal(matches(rule(`  s:\n    SHA256|exists: true\n  condition: s`), {}), false);
  assert.equal(matches(rule(`  s:\n    Image: '*\\rundll32.exe'\n  condition: s`), { FolderPath: 'C:\\Windows\\System32\\RUNDLL32.exe' }), true);
  assert.equal(matches(rule(`  s:\n    User: null\n  condition: s`), {}), true);
});

test('conditions: and/or/not, parentheses, 1 of / all of patterns and them', () => {
  const sels = `  sel_a:\n    FileName: a.exe\n  sel_b:\n    FileName: b.exe\n  filter:\n    AccountName: SYSTEM\n`;
  assert.equal(matches(rule(`${sels}  condition: 1 of sel_* and not filter`), { FileName: 'b.exe', AccountName: 'bob' }), true);
  assert.equal(matches(rule(`${sels}  condition: 1 of sel_* and not filter`), { FileName: 'b.exe', AccountName: 'SYSTEM' }), false);
  assert.equal(matches(rule(`${sels}  condition: all of sel_*`), { FileName: 'a.exe' }), false);
  assert.equal(matches(rule(`${sels}  condition: (sel_a or sel_b) and not (filter)`), { FileName: 'a.exe' }), true);
  assert.equal(matches(rule(`${sels}  condition: 1 of them`), { AccountName: 'SYSTEM' }), true);
});

test('each bad rule fixture is refused with its code, naming the rule and the construct', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.yml'));
  assert.ok(files.length >= 6);
  for (const f of files) {
    const expected = /^(ARCSIM_E_RULE_[A-Z_]+?)(--|\.)/.exec(f)?.[1];
    assert.ok(expected, `${f} is named after the error it proves`);
    const text = readFileSync(join(FIXTURES, f), 'utf8');
    const want = /^# expect: (.+)$/m.exec(text)?.[1];
    assert.throws(() => loadRules([{ file: f, text }]), (err: unknown) => {
      assert.ok(err instanceof ArcsimError);
      assert.equal(err.code, expected, `${f}: ${err.message}`);
      assert.ok(err.message.includes(f), 'the message names the file');
      if (want) assert.ok(err.message.includes(want), `${f}: "${err.message}" should mention "${want}"`);
      return true;
    });
  }
});
