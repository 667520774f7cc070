import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRules, loadRules, parseMappingFile } from '../../control-plane/detection/index.ts';
import { MAPPING_FILE } from '../../control-plane/detection/field-mapping.ts';
import { readFileSync } from 'node:fs';
import { ArcsimError } from '../../protocol/errors.ts';

/**
 * Sigma specification conformance (SigmaHQ/sigma-specification v2.1: rules, modifiers appendix,
 * correlation rules): one small rule per construct, with the match / no-match the specification's
 * text and examples give.
 */
function rule(detection: string, opts: { logsource?: string; head?: string } = {}): string {
  return `${opts.head ?? 'title: t\nid: 5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b01\n'}logsource:\n${opts.logsource ?? '  category: process_creation\n  product: windows'}\ndetection:\n${detection}\n`;
}
const compile = (text: string) => loadRules([{ file: 'spec.yml', text }]).detections[0]!;
const m = (text: string, event: Record<string, unknown>) => compile(text).match(event);
const refusal = (text: string) => {
  try {
    loadRules([{ file: 'spec.yml', text }]);
  } catch (err) {
    assert.ok(err instanceof ArcsimError);
    return err;
  }
  assert.fail('the rule loaded');
};

test('attributes: only title, logsource and detection are required; status, level, id optional; custom keys kept', () => {
  const r = compile(`title: minimal\nlogsource:\n  category: process_creation\ndetection:\n  s:\n    CommandLine: x\n  condition: s\nregression_tests_path: regression_data/x/info.yml\nsimulation:\n  - type: atomic-red-team\n    name: x\n`);
  assert.equal(r.title, 'minimal');
  assert.deepEqual(Object.keys(r.extra).sort(), ['regression_tests_path', 'simulation']);
  assert.equal(r.custom.severity, 'Medium', 'no level: a custom detection still needs a severity');
  // Ids: a UUID (v4 recommended, not required), so variant bits are not checked; anything else is refused.
  assert.doesNotThrow(() => compile(rule('  s:\n    CommandLine: x\n  condition: s', { head: 'title: t\nid: 5b0c1e36-8a51-4a39-1d55-7f2e8f6e1b01\n' })));
  assert.equal(refusal(rule('  s:\n    CommandLine: x\n  condition: s', { head: 'title: t\nid: rule-1\n' })).code, 'ARCSIM_E_RULE_SCHEMA');
  // related types are the five the specification defines.
  assert.equal(refusal(rule('  s:\n    CommandLine: x\n  condition: s', { head: 'title: t\nrelated:\n  - id: 5b0c1e36-8a51-4a39-9d55-7f2e8f6e1b09\n    type: cousin\n' })).code, 'ARCSIM_E_RULE_SCHEMA');
});

test('lists are OR, maps are AND, list of maps is OR of ANDs; plain values are case-insensitive with * and ? wildcards', () => {
  const r = rule(`  sel:\n    - Image|endswith: '\\\\whoami.exe'\n      CommandLine|contains: '/all'\n    - OriginalFileName: [whoami.exe, 'who?mi.*']\n  condition: sel`);
  assert.equal(m(r, { FolderPath: 'C:\\Windows\\System32\\WHOAMI.EXE', ProcessCommandLine: 'whoami /ALL' }), true);
  assert.equal(m(r, { FolderPath: 'C:\\Windows\\System32\\whoami.exe', ProcessCommandLine: 'whoami' }), false);
  assert.equal(m(r, { ProcessVersionInfoOriginalFileName: 'whoXmi.exe' }), true, '? is one character');
  // A backslash escapes the wildcard characters.
  assert.equal(m(rule(`  s:\n    CommandLine: 'a\\*b'\n  condition: s`), { ProcessCommandLine: 'a*b' }), true);
  assert.equal(m(rule(`  s:\n    CommandLine: 'a\\*b'\n  condition: s`), { ProcessCommandLine: 'axxb' }), false);
  // A plain backslash may be written single or doubled (\\ is one backslash).
  assert.equal(m(rule(`  s:\n    CommandLine: 'C:\\\\x\\y'\n  condition: s`), { ProcessCommandLine: 'C:\\x\\y' }), true);
});

test('null matches an absent or empty field; exists checks presence only', () => {
  const nul = rule('  s:\n    CommandLine: null\n  condition: s');
  assert.equal(m(nul, {}), true);
  assert.equal(m(nul, { ProcessCommandLine: 'x' }), false);
  const ex = rule('  s:\n    CommandLine|exists: true\n  condition: s');
  assert.equal(m(ex, { ProcessCommandLine: '' }), true, 'empty but present');
  assert.equal(m(ex, {}), false);
  assert.equal(m(rule('  s:\n    CommandLine|exists: false\n  condition: s'), {}), true);
});

test('keywords: a list of values searched in the whole event; |all makes it AND', () => {
  // The specification's example: mimikatz keywords, OR.
  const kw = rule("  keywords:\n    - 'event::clear'\n    - 'event::drop'\n  condition: keywords");
  assert.equal(m(kw, { ProcessCommandLine: 'mimikatz.exe "EVENT::Clear" exit' }), true);
  assert.equal(m(kw, { ProcessCommandLine: 'mimikatz.exe "event::list"' }), false);
  const all = rule("  keywords_cmdlet:\n    '|all':\n      - 'OabVirtualDirectory'\n      - ' -ExternalUrl '\n  condition: keywords_cmdlet");
  assert.equal(m(all, { ProcessCommandLine: 'Set-OabVirtualDirectory -ExternalUrl http://x' }), true);
  assert.equal(m(all, { ProcessCommandLine: 'Set-OabVirtualDirectory -Identity x' }), false);
});

test('generic modifiers: contains|all, startswith, endswith, cased, neq', () => {
  const all = rule("  s:\n    CommandLine|contains|all: [' -nop', ' -w hidden']\n  condition: s");
  assert.equal(m(all, { ProcessCommandLine: 'ps -NoP -W Hidden' }), true);
  assert.equal(m(all, { ProcessCommandLine: 'ps -NoP' }), false);
  assert.equal(refusal(rule("  s:\n    CommandLine|contains|all: 'x'\n  condition: s")).code, 'ARCSIM_E_RULE_SCHEMA', 'all on one value is not allowed');
  const cased = rule("  s:\n    CommandLine|cased|contains: 'Invoke-Mimikatz'\n  condition: s");
  assert.equal(m(cased, { ProcessCommandLine: 'IEX; Invoke-Mimikatz' }), true);
  assert.equal(m(cased, { ProcessCommandLine: 'IEX; invoke-mimikatz' }), false);
  const neq = rule("  s:\n    CommandLine|neq: [a, b]\n  condition: s");
  assert.equal(m(neq, { ProcessCommandLine: 'c' }), true);
  assert.equal(m(neq, { ProcessCommandLine: 'A' }), false);
});

test('windash: -, /, en dash, em dash and horizontal bar are interchangeable', () => {
  const r = rule("  s:\n    CommandLine|windash|contains: ' -s '\n  condition: s");
  for (const d of ['-', '/', '\u2013', '\u2014', '\u2015']) assert.equal(m(r, { ProcessCommandLine: `psexec ${d}s cmd` }), true, d);
  assert.equal(m(r, { ProcessCommandLine: 'psexec +s cmd' }), false);
});

test('re with the i, m, s flags; re is case-sensitive by default; unsupported PCRE constructs are refused by name', () => {
  assert.equal(m(rule("  s:\n    CommandLine|re: '^cmd\\.exe /c'\n  condition: s"), { ProcessCommandLine: 'CMD.EXE /c x' }), false);
  assert.equal(m(rule("  s:\n    CommandLine|re|i: '^cmd\\.exe /c'\n  condition: s"), { ProcessCommandLine: 'CMD.EXE /c x' }), true);
  assert.equal(m(rule("  s:\n    CommandLine|re: '^b$'\n  condition: s"), { ProcessCommandLine: 'a\nb' }), false);
  assert.equal(m(rule("  s:\n    CommandLine|re|m: '^b$'\n  condition: s"), { ProcessCommandLine: 'a\nb' }), true);
  assert.equal(m(rule("  s:\n    CommandLine|re: 'a.b'\n  condition: s"), { ProcessCommandLine: 'a\nb' }), false);
  assert.equal(m(rule("  s:\n    CommandLine|re|s: 'a.b'\n  condition: s"), { ProcessCommandLine: 'a\nb' }), true);
  const atomic = refusal(rule("  s:\n    CommandLine|re: '(?>a+)b'\n  condition: s"));
  assert.equal(atomic.code, 'ARCSIM_E_RULE_UNSUPPORTED');
  assert.match(atomic.message, /atomic groups/);
});

test('encodings: base64, base64offset, utf16le / utf16be / utf16 / wide, as the modifiers appendix defines them', () => {
  // base64: the value encoded, found as is.
  const b64 = rule("  s:\n    CommandLine|base64|contains: 'http://'\n  condition: s");
  assert.equal(m(b64, { ProcessCommandLine: `echo ${Buffer.from('http://').toString('base64')}` }), true);
  // base64offset: found whatever its byte offset in the encoded string.
  const off = rule("  s:\n    CommandLine|base64offset|contains: 'http://'\n  condition: s");
  for (const prefix of ['', 'a', 'ab']) {
    assert.equal(m(off, { ProcessCommandLine: `echo ${Buffer.from(`${prefix}curl http://x`).toString('base64')}` }), true, `offset ${prefix.length}`);
  }
  // wide (= utf16le) then base64offset: PowerShell -EncodedCommand payloads.
  const wide = rule("  s:\n    CommandLine|wide|base64offset|contains: 'IEX'\n  condition: s");
  for (const prefix of ['', 'x', 'xy']) {
    assert.equal(m(wide, { ProcessCommandLine: `powershell -enc ${Buffer.from(`${prefix}IEX (New-Object Net.WebClient)`, 'utf16le').toString('base64')}` }), true);
  }
  assert.equal(m(wide, { ProcessCommandLine: `powershell -enc ${Buffer.from('IEX', 'utf8').toString('base64')}` }), false, 'UTF-8 is not UTF-16');
  // cmd > 63 00 6d 00 64 00 (utf16le), 00 63 00 6d 00 64 (utf16be), FF FE 63 00 6d 00 64 00 (utf16).
  const enc = (mod: string) => rule(`  s:\n    CommandLine|${mod}|base64: 'cmd'\n  condition: s`);
  assert.equal(m(enc('utf16le'), { ProcessCommandLine: Buffer.from([0x63, 0, 0x6d, 0, 0x64, 0]).toString('base64') }), true);
  assert.equal(m(enc('utf16be'), { ProcessCommandLine: Buffer.from([0, 0x63, 0, 0x6d, 0, 0x64]).toString('base64') }), true);
  assert.equal(m(enc('utf16'), { ProcessCommandLine: Buffer.from([0xff, 0xfe, 0x63, 0, 0x6d, 0, 0x64, 0]).toString('base64') }), true);
  assert.equal(m(enc('utf16le'), { ProcessCommandLine: Buffer.from([0, 0x63, 0, 0x6d, 0, 0x64]).toString('base64') }), false);
});

test('numeric gt / gte / lt / lte, and the time modifiers', () => {
  const lt = rule('  s:\n    DestinationPort|lt: 1024\n  condition: s', { logsource: '  category: network_connection' });
  assert.equal(m(lt, { RemotePort: 443 }), true);
  assert.equal(m(lt, { RemotePort: 1024 }), false);
  assert.equal(m(rule('  s:\n    DestinationPort|lte: 1024\n  condition: s', { logsource: '  category: network_connection' }), { RemotePort: 1024 }), true);
  assert.equal(m(rule('  s:\n    DestinationPort|gt: 49151\n  condition: s', { logsource: '  category: network_connection' }), { RemotePort: 50000 }), true);
  assert.equal(m(rule('  s:\n    DestinationPort|gte: 50001\n  condition: s', { logsource: '  category: network_connection' }), { RemotePort: 50000 }), false);
  const hour = rule('  s:\n    Timestamp|hour|lt: 6\n  condition: s');
  assert.equal(m(hour, { Timestamp: '2026-01-01T03:15:00Z' }), true);
  assert.equal(m(hour, { Timestamp: '2026-01-01T13:15:00Z' }), false);
});

test('cidr: IPv4 and IPv6 ranges', () => {
  const ls = { logsource: '  category: network_connection' };
  const v4 = rule("  s:\n    DestinationIp|cidr: ['10.0.0.0/8', '192.168.0.0/16']\n  condition: s", ls);
  assert.equal(m(v4, { RemoteIP: '10.1.2.3' }), true);
  assert.equal(m(v4, { RemoteIP: '11.1.2.3' }), false);
  const v6 = rule("  s:\n    DestinationIp|cidr: '2001:db8::/32'\n  condition: s", ls);
  assert.equal(m(v6, { RemoteIP: '2001:db8:1::5' }), true);
  assert.equal(m(v6, { RemoteIP: '2001:db9::1' }), false);
  assert.equal(m(rule("  s:\n    DestinationIp|cidr: 'fe80::/10'\n  condition: s", ls), { RemoteIP: 'fe80::1%12' }), true);
  assert.equal(m(rule("  s:\n    DestinationIp|cidr: '::1/128'\n  condition: s", ls), { RemoteIP: '::1' }), true);
});

test('fieldref compares two fields of the same event', () => {
  // As SigmaHQ's file_delete_win_delete_own_image: a process deleting its own image.
  const r = rule('  s:\n    TargetFilename|fieldref: Image\n  condition: s', { logsource: '  category: file_delete\n  product: windows' });
  assert.equal(m(r, { ActionType: 'FileDeleted', FolderPath: 'C:\\x\\a.exe', InitiatingProcessFolderPath: 'C:\\X\\A.EXE' }), true);
  assert.equal(m(r, { ActionType: 'FileDeleted', FolderPath: 'C:\\x\\b.exe', InitiatingProcessFolderPath: 'C:\\x\\a.exe' }), false);
});

test('expand: placeholders take the mapping file\'s values; an undefined placeholder refuses the rule', () => {
  const text = readFileSync(MAPPING_FILE, 'utf8').replace('placeholders: {}', 'placeholders:\n  Administrators: [admin, root]');
  const mapping = parseMappingFile(text, 'test-mapping.yaml');
  const src = rule("  s:\n    User|expand: '%Administrators%'\n  condition: s", { logsource: '  category: process_creation\n  product: linux' });
  const r = compileRules([{ file: 'x.yml', text: src }], { mapping });
  assert.equal(r.refused.length, 0);
  assert.equal(r.set.detections[0]!.match({ AccountName: 'root' }), true);
  assert.equal(r.set.detections[0]!.match({ AccountName: 'bob' }), false);
  // Without that placeholder (the shipped file defines none), the rule cannot be honoured.
  const e = refusal(src);
  assert.equal(e.code, 'ARCSIM_E_RULE_UNSUPPORTED');
  assert.match(e.message, /%Administrators%/);
  // Without `expand`, %name% is a plain value.
  assert.equal(m(rule("  s:\n    CommandLine: '%Administrators%'\n  condition: s"), { ProcessCommandLine: '%administrators%' }), true);
});

test('conditions: precedence not > and > or, parentheses, N of pattern, all of them, a list of conditions', () => {
  const sels = '  a:\n    CommandLine: a\n  b:\n    FileName: b\n  c:\n    AccountName: c\n';
  // a or b and not c  ==  a or (b and (not c))
  const prec = rule(`${sels}  condition: a or b and not c`);
  assert.equal(m(prec, { ProcessCommandLine: 'a', AccountName: 'c' }), true);
  assert.equal(m(prec, { FileName: 'b', AccountName: 'c' }), false);
  assert.equal(m(rule(`${sels}  condition: (a or b) and not c`), { ProcessCommandLine: 'a', AccountName: 'c' }), false);
  assert.equal(m(rule(`${sels}  condition: 2 of them`), { ProcessCommandLine: 'a', FileName: 'b' }), true);
  assert.equal(m(rule(`${sels}  condition: 2 of them`), { ProcessCommandLine: 'a' }), false);
  assert.equal(m(rule(`${sels}  condition: all of them`), { ProcessCommandLine: 'a', FileName: 'b' }), false);
  const under = '  sel_x:\n    CommandLine: x\n  _helper:\n    CommandLine: y\n';
  assert.equal(m(rule(`${under}  condition: 1 of them`), { ProcessCommandLine: 'y' }), false, 'them skips names starting with _');
  assert.equal(m(rule(`${sels}  condition:\n    - a\n    - b`), { FileName: 'b' }), true, 'a list of conditions is OR');
});

test('legacy aggregations are refused by name with ARCSIM_E_RULE_UNSUPPORTED', () => {
  const near = refusal(rule('  a:\n    CommandLine: a\n  b:\n    CommandLine: b\n  condition: a | near b'));
  assert.equal(near.code, 'ARCSIM_E_RULE_UNSUPPORTED');
  assert.match(near.message, /"near"/);
  const count = refusal(rule('  a:\n    CommandLine: a\n  condition: a | count(DeviceName) > 3'));
  assert.equal(count.code, 'ARCSIM_E_RULE_UNSUPPORTED');
  assert.match(count.message, /"count\(\)"/);
});
