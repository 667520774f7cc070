import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecordedEvents } from '../../scenarios/recorded/index.ts';
import { cleanup, tempDir } from '../helpers.ts';

// Issue 13, item 7: recorded Windows telemetry in. Real samples: SigmaHQ regression data
// (test/fixtures/recorded/README.md). Expected values are read off the samples and written the
// way MDE writes them (its advanced-hunting reference), not taken from the mapping code.

const FIX = join(import.meta.dirname, '..', 'fixtures', 'recorded');
const SAMPLES = [
  'sysmon-1-powershell-base64-invoke.json', 'sysmon-13-hidden-local-user.json', 'sysmon-7-vcruntime140-sideload.json',
  'sysmon-11-startup-folder-write.json', 'security-4648-explicit-credential-logon.json',
];
const text = (name: string) => readFileSync(join(FIX, name), 'utf8');
const one = (name: string) => {
  const r = readRecordedEvents(text(name), 'evtx-json', name);
  assert.equal(r.events.length, 1, `${name}: one row`);
  return r.events[0] as Record<string, unknown>;
};
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('Sysmon 1 (real sample) -> DeviceProcessEvents ProcessCreated, columns as MDE writes them', () => {
  const row = one('sysmon-1-powershell-base64-invoke.json');
  assert.equal(row.Table, 'DeviceProcessEvents');
  assert.equal(row.ActionType, 'ProcessCreated');
  assert.equal(row.Timestamp, '2025-12-15T11:40:20.681Z');
  assert.equal(row.DeviceName, 'swachchhanda');
  assert.match(String(row.DeviceId), /^[0-9a-f]{40}$/);
  assert.match(String(row.ReportId), UUID_V7);
  assert.equal(row.FileName, 'powershell.exe');
  assert.equal(row.FolderPath, 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
  assert.match(String(row.ProcessCommandLine), /^powershell {2}-exec bypass -e SQBuAHYA/);
  assert.equal(row.ProcessId, 12324);
  assert.equal(row.SHA256, '7d17056459b9cea517b5da515790df351b907e516b433cafb869abaff83db648');
  assert.equal(row.MD5, '9e590f2f936b4982ca6e7c77a6a38df1');
  assert.equal(row.ProcessIntegrityLevel, 'High');
  assert.equal(row.AccountDomain, 'swachchhanda');
  assert.equal(row.AccountName, 'xodih');
  assert.equal(row.LogonId, 0x7e2aa);
  assert.equal(row.ProcessVersionInfoOriginalFileName, 'PowerShell.EXE');
  assert.equal(row.InitiatingProcessFileName, 'cmd.exe');
  assert.equal(row.InitiatingProcessFolderPath, 'C:\\Windows\\System32\\cmd.exe');
  assert.equal(row.InitiatingProcessId, 11724);
  assert.match(String(row.InitiatingProcessCommandLine), /^"cmd.exe" \/c powershell/);
});

test('Sysmon 13 (real sample) -> DeviceRegistryEvents RegistryValueSet with the hive spelled out', () => {
  const row = one('sysmon-13-hidden-local-user.json');
  assert.equal(row.Table, 'DeviceRegistryEvents');
  assert.equal(row.ActionType, 'RegistryValueSet');
  assert.equal(row.RegistryKey, 'HKEY_LOCAL_MACHINE\\SAM\\SAM\\Domains\\Account\\Users\\Names\\hideme0007$');
  assert.equal(row.RegistryValueName, '(Default)');
  assert.equal(row.RegistryValueType, 'Binary');
  assert.equal(row.InitiatingProcessFileName, 'lsass.exe');
  assert.equal(row.InitiatingProcessId, 648);
  assert.equal(row.DeviceName, 'msedgewin10');
});

test('Sysmon 7 and 11 (real samples) -> DeviceImageLoadEvents ImageLoaded, DeviceFileEvents FileCreated', () => {
  // Sysmon 7: the module's DeviceFileCertificateInfo row first (what the event says of the file), then the load.
  const both = readRecordedEvents(text('sysmon-7-vcruntime140-sideload.json'), 'evtx-json');
  assert.deepEqual([both.records, both.mapped, both.events.map((e) => e.Table)], [1, 1, ['DeviceFileCertificateInfo', 'DeviceImageLoadEvents']]);
  const cert = both.events[0] as Record<string, unknown>;
  // The sample: Signed "false", Signature "-", SignatureStatus "Unavailable", no version information ("-"), no SHA1 hash.
  assert.equal(cert.IsSigned, false);
  assert.equal(cert.IsTrusted, false, 'WinVerifyTrust does not trust an unsigned file');
  assert.equal(cert.Signer, undefined);
  assert.equal(cert.SHA1, undefined);
  assert.deepEqual(cert.AdditionalFields, {
    SignatureStatus: 'Unavailable', SHA256: 'e7801d25e1a0aa8ffa929d76c31cc604bbb2404f7b8396f0bf3de325e034e257', MD5: '6349c0af16bbd22b44bcbbe25c19d82d',
  });
  assert.equal(cert.ActionType, undefined, 'DeviceFileCertificateInfo has no ActionType');
  assert.notEqual(cert.ReportId, both.events[1]!.ReportId);
  const dll = both.events[1] as Record<string, unknown>;
  assert.equal(dll.Table, 'DeviceImageLoadEvents');
  assert.equal(dll.ActionType, 'ImageLoaded');
  assert.equal(dll.FileName, 'vcruntime140.dll');
  assert.equal(dll.FolderPath, 'C:\\Users\\xodih\\AppData\\Local\\Temp\\vcruntime140.dll');
  assert.equal(dll.SHA256, 'e7801d25e1a0aa8ffa929d76c31cc604bbb2404f7b8396f0bf3de325e034e257');
  assert.equal(dll.InitiatingProcessFileName, 'sqlwriter.exe');
  assert.equal(dll.InitiatingProcessAccountName, 'xodih');
  const file = one('sysmon-11-startup-folder-write.json');
  assert.equal(file.Table, 'DeviceFileEvents');
  assert.equal(file.ActionType, 'FileCreated');
  assert.equal(file.FileName, 'Notepad.lnk');
  assert.equal(file.FolderPath, 'C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\StartUp\\Notepad.lnk');
  assert.equal(file.InitiatingProcessFileName, 'powershell.exe');
  assert.equal(file.Timestamp, '2019-07-19T14:45:31.287Z');
});

test('an event id arcsim does not map (real Security 4648) is counted, not dropped silently', () => {
  const r = readRecordedEvents(text('security-4648-explicit-credential-logon.json'), 'evtx-json');
  assert.equal(r.records, 1);
  assert.equal(r.events.length, 0);
  assert.deepEqual(r.unmapped, { 'Security/4648': 1 });
});

/** The five samples in each file form evtx-json accepts. */
function forms(): Record<string, string> {
  const objects = SAMPLES.map((n) => JSON.parse(text(n)) as unknown);
  return {
    'JSON lines': objects.map((o) => JSON.stringify(o)).join('\n') + '\n',
    // evtx_dump -o json: "Record N" before each pretty-printed object.
    'concatenated (evtx_dump)': objects.map((o, i) => `Record ${i + 1}\n${JSON.stringify(o, null, 2)}`).join('\n'),
    'array': JSON.stringify(objects, null, 2),
  };
}

test('evtx-json takes JSON lines, concatenated objects and an array alike; rows come out in event-time order', () => {
  for (const [form, body] of Object.entries(forms())) {
    const r = readRecordedEvents(body, 'evtx-json', form);
    assert.equal(r.records, 5, form);
    assert.deepEqual(r.events.map((e) => e.Table), ['DeviceFileEvents', 'DeviceRegistryEvents', 'DeviceProcessEvents', 'DeviceFileCertificateInfo', 'DeviceImageLoadEvents'], form);
    assert.deepEqual(r.unmapped, { 'Security/4648': 1 }, form);
    assert.equal(r.skipped, 0, form);
  }
});

test('flat-json (Security-Datasets form) of the same real events gives the same rows', () => {
  // Flattened as OTRF Security-Datasets / Mordor records are: System fields on top, EventData merged in.
  const flat = SAMPLES.map((n) => {
    const ev = (JSON.parse(text(n)) as { Event: { System: Record<string, any>; EventData: Record<string, unknown> } }).Event;
    return JSON.stringify({
      '@timestamp': ev.System.TimeCreated['#attributes'].SystemTime, Hostname: ev.System.Computer, EventID: ev.System.EventID,
      Channel: ev.System.Channel, SourceName: ev.System.Provider['#attributes'].Name, ...ev.EventData,
    });
  }).join('\n');
  const strip = (rows: Array<Record<string, unknown>>) => rows.map(({ ReportId: _r, ...rest }) => rest);
  const viaFlat = readRecordedEvents(flat, 'flat-json');
  const viaEvtx = readRecordedEvents(forms()['JSON lines']!, 'evtx-json');
  assert.deepEqual(strip(viaFlat.events as Array<Record<string, unknown>>), strip(viaEvtx.events as Array<Record<string, unknown>>));
  assert.deepEqual(viaFlat.unmapped, { 'Security/4648': 1 });
});

/** A flat record of `channel`/`id` with documented field names (no real sample of these ids is pinned). */
const flatRecord = (channel: string, id: number, fields: Record<string, unknown>) =>
  JSON.stringify({ '@timestamp': '2024-05-01T10:00:00.000Z', Hostname: 'WKS01.contoso.local', EventID: id, Channel: channel, ...fields });
const SYSMON = 'Microsoft-Windows-Sysmon/Operational';
const rowOf = (line: string) => {
  const r = readRecordedEvents(line, 'flat-json');
  assert.equal(r.skipped, 0, JSON.stringify(r.invalid));
  return r.events[0] as Record<string, unknown>;
};

test('Sysmon 3: direction from Initiated (outbound ConnectionSuccess, inbound InboundConnectionAccepted)', () => {
  const out = rowOf(flatRecord(SYSMON, 3, { Image: 'C:\\Windows\\System32\\rundll32.exe', ProcessId: '4100', User: 'CONTOSO\\bob', Protocol: 'tcp', Initiated: 'true', SourceIp: '10.0.0.5', SourcePort: '50123', DestinationIp: '203.0.113.7', DestinationHostname: 'c2.example.test', DestinationPort: '443' }));
  assert.deepEqual(
    { t: out.Table, a: out.ActionType, l: out.LocalIP, lp: out.LocalPort, r: out.RemoteIP, rp: out.RemotePort, u: out.RemoteUrl, p: out.Protocol, f: out.InitiatingProcessFileName, n: out.InitiatingProcessAccountName },
    { t: 'DeviceNetworkEvents', a: 'ConnectionSuccess', l: '10.0.0.5', lp: 50123, r: '203.0.113.7', rp: 443, u: 'c2.example.test', p: 'Tcp', f: 'rundll32.exe', n: 'bob' },
  );
  const inbound = rowOf(flatRecord(SYSMON, 3, { Image: 'System', Protocol: 'tcp', Initiated: 'false', SourceIp: '198.51.100.9', SourcePort: '61000', DestinationIp: '10.0.0.5', DestinationPort: '445' }));
  assert.deepEqual({ a: inbound.ActionType, l: inbound.LocalIP, lp: inbound.LocalPort, r: inbound.RemoteIP }, { a: 'InboundConnectionAccepted', l: '10.0.0.5', lp: 445, r: '198.51.100.9' });
});

test('Sysmon 12 / 14 / 22 -> registry key created, key renamed (HKU hive as MDE writes it), DNS query in DeviceEvents', () => {
  const created = rowOf(flatRecord(SYSMON, 12, { EventType: 'CreateKey', Image: 'C:\\Windows\\regedit.exe', TargetObject: 'HKLM\\SOFTWARE\\Evil' }));
  assert.deepEqual([created.Table, created.ActionType, created.RegistryKey], ['DeviceRegistryEvents', 'RegistryKeyCreated', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Evil']);
  const renamed = rowOf(flatRecord(SYSMON, 14, { EventType: 'RenameKey', Image: 'C:\\Windows\\regedit.exe', TargetObject: 'HKU\\S-1-5-21-1\\Software\\A', NewName: 'HKU\\S-1-5-21-1\\Software\\B' }));
  assert.deepEqual([renamed.ActionType, renamed.PreviousRegistryKey, renamed.RegistryKey], ['RegistryKeyRenamed', 'HKEY_CURRENT_USER\\S-1-5-21-1\\Software\\A', 'HKEY_CURRENT_USER\\S-1-5-21-1\\Software\\B']);
  const dword = rowOf(flatRecord(SYSMON, 13, { EventType: 'SetValue', Image: 'C:\\Windows\\reg.exe', TargetObject: 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware', Details: 'DWORD (0x00000001)' }));
  assert.deepEqual([dword.RegistryValueName, dword.RegistryValueType, dword.RegistryValueData], ['DisableAntiSpyware', 'Dword', '1']);
  const dns = rowOf(flatRecord(SYSMON, 22, { Image: 'C:\\Windows\\System32\\nslookup.exe', QueryName: 'c2.example.test', QueryStatus: '0', QueryResults: '::ffff:203.0.113.7;' }));
  assert.deepEqual([dns.Table, dns.ActionType, dns.RemoteUrl], ['DeviceEvents', 'DnsQueryResponse', 'c2.example.test']);
  assert.deepEqual(dns.AdditionalFields, { DnsQueryString: 'c2.example.test', DnsQueryResult: '::ffff:203.0.113.7;', DnsQueryStatus: '0' });
});

test('Security 4624 / 4625 / 4688 -> DeviceLogonEvents (logon type names) and DeviceProcessEvents', () => {
  const ok = rowOf(flatRecord('Security', 4624, { TargetUserName: 'alice', TargetDomainName: 'CONTOSO', TargetUserSid: 'S-1-5-21-9', TargetLogonId: '0x3e7', LogonType: '10', AuthenticationPackageName: 'Negotiate', WorkstationName: 'ATTACKER', IpAddress: '198.51.100.20', IpPort: '50432', ProcessName: 'C:\\Windows\\System32\\svchost.exe', ProcessId: '0x2a4' }));
  assert.deepEqual(
    [ok.Table, ok.ActionType, ok.LogonType, ok.AccountName, ok.AccountDomain, ok.RemoteIP, ok.RemotePort, ok.RemoteDeviceName, ok.Protocol, ok.LogonId, ok.InitiatingProcessId],
    ['DeviceLogonEvents', 'LogonSuccess', 'RemoteInteractive', 'alice', 'CONTOSO', '198.51.100.20', 50432, 'ATTACKER', 'Negotiate', 0x3e7, 0x2a4],
  );
  const failed = rowOf(flatRecord('Security', 4625, { TargetUserName: 'admin', TargetDomainName: 'WKS01', LogonType: 3, Status: '0xc000006d', SubStatus: '0xc000006a', IpAddress: '203.0.113.50', IpPort: '0' }));
  assert.deepEqual([failed.ActionType, failed.LogonType, failed.FailureReason, failed.RemotePort], ['LogonFailed', 'Network', 'InvalidUserNameOrPassword', undefined]);
  const proc = rowOf(flatRecord('Security', 4688, { SubjectUserName: 'alice', SubjectDomainName: 'CONTOSO', NewProcessId: '0x1a2c', NewProcessName: 'C:\\Windows\\System32\\whoami.exe', TokenElevationType: '%%1937', ProcessId: '0x1f0', CommandLine: 'whoami /all', MandatoryLabel: 'S-1-16-12288', ParentProcessName: 'C:\\Windows\\System32\\cmd.exe', TargetUserName: '-' }));
  assert.deepEqual(
    [proc.Table, proc.ActionType, proc.FileName, proc.ProcessId, proc.ProcessCommandLine, proc.ProcessIntegrityLevel, proc.ProcessTokenElevation, proc.AccountName, proc.InitiatingProcessFileName, proc.InitiatingProcessId],
    ['DeviceProcessEvents', 'ProcessCreated', 'whoami.exe', 0x1a2c, 'whoami /all', 'High', 'TokenElevationTypeFull', 'alice', 'cmd.exe', 0x1f0],
  );
});

test('a record that is not a Windows event is counted as unreadable; broken JSON is a typed error', () => {
  const r = readRecordedEvents('{"hello": 1}\n', 'evtx-json');
  assert.equal(r.skipped, 1);
  assert.match(r.invalid[0]!.reason, /Event\.System/);
  assert.throws(() => readRecordedEvents('{"Event": {"System": ', 'evtx-json', 'cut.json'), { code: 'ARCSIM_E_VALIDATION' });
});

test('arcsim detect --format evtx-json: a shipped rule fires on the real sample, the unmapped record is reported', (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const file = join(dir, 'recorded.json');
  writeFileSync(file, forms()['concatenated (evtx_dump)']!);
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'arcsim.js');
  const r = spawnSync(process.execPath, [bin, 'detect', '--events', file, '--format', 'evtx-json', '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { events: number; recorded: { records: number; mapped: number; unmapped: Record<string, number> }; alerts: Array<{ alertType: string }> };
  assert.equal(out.events, 5);
  assert.deepEqual(out.recorded.unmapped, { 'Security/4648': 1 });
  assert.deepEqual(out.alerts.map((a) => a.alertType), ['MDE_SuspiciousPowerShellCommandLine']);
  assert.match(r.stderr, /5 evtx-json record\(s\), 4 mapped to 5 MDE rows.*Security\/4648 ×1/);
  const bad = spawnSync(process.execPath, [bin, 'detect', '--events', file, '--format', 'evtx'], { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /evtx-json/);
});
