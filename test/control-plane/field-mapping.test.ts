import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadRules, parseMappingFile, defaultMapping } from '../../control-plane/detection/index.ts';
import { MAPPING_FILE } from '../../control-plane/detection/field-mapping.ts';
import { TABLE_NAMES, type TableName } from '../../protocol/index.ts';
import { ArcsimError } from '../../protocol/errors.ts';

/**
 * The Sigma -> MDE mapping file: expected values are how Sysmon writes a field (Sysmon's event
 * schema, SigmaHQ's rules) and how MDE records the same fact (the advanced-hunting table reference).
 */
const one = (category: string, detection: string, product = 'windows') => loadRules([{
  file: 'm.yml',
  text: `title: t\nlogsource:\n  category: ${category}\n  product: ${product}\ndetection:\n${detection}\n`,
}]).detections[0]!;

test('every column the shipped mapping names exists in its table, and every table exists', () => {
  const file = parse(readFileSync(MAPPING_FILE, 'utf8'));
  for (const ls of file.logsources) assert.ok((TABLE_NAMES as string[]).includes(ls.table), ls.table);
  for (const [table, fields] of Object.entries(file.fields as Record<string, Record<string, unknown>>)) {
    assert.ok((TABLE_NAMES as string[]).includes(table), table);
    for (const field of Object.keys(fields)) {
      assert.equal(typeof defaultMapping().resolve(table as TableName, field), 'function', `${table}.${field}: ${String(defaultMapping().resolve(table as TableName, field))}`);
    }
  }
});

test('process_creation: Image is FolderPath; version info, integrity level, logon id and user as Sysmon writes them', () => {
  const r = one('process_creation', `  s:
    Image|endswith: '\\\\certutil.exe'
    OriginalFileName: CertUtil.exe
    Description: CertUtil.exe
    Product|contains: Windows
    Company: Microsoft Corporation
    IntegrityLevel: High
    LogonId: '0x3e7'
    User|contains: 'AUTHORI'
    ParentUser|endswith: '\\\\alice'
  condition: s`);
  const event = {
    FolderPath: 'C:\\Windows\\System32\\certutil.exe', ProcessVersionInfoOriginalFileName: 'CertUtil.exe',
    ProcessVersionInfoFileDescription: 'CertUtil.exe', ProcessVersionInfoProductName: 'Microsoft® Windows® Operating System',
    ProcessVersionInfoCompanyName: 'Microsoft Corporation', ProcessIntegrityLevel: 'High', LogonId: 999,
    AccountDomain: 'NT AUTHORITY', AccountName: 'SYSTEM', InitiatingProcessAccountDomain: 'CONTOSO', InitiatingProcessAccountName: 'alice',
  };
  assert.equal(r.match(event), true);
  assert.equal(r.match({ ...event, LogonId: 1000 }), false, '0x3e7 is 999');
  assert.equal(r.match({ ...event, ProcessIntegrityLevel: 'Medium' }), false);
});

test('Hashes: "SHA1=…,MD5=…,SHA256=…" rebuilt from MDE\'s one column per algorithm', () => {
  const r = one('process_creation', `  s:\n    Hashes|contains:\n      - 'MD5=0C2C1A3A8E9D3D1E5F5B7A8F1A2B3C4D'\n      - 'SHA256=ABC'\n  condition: s`);
  assert.equal(r.match({ SHA1: 'ff', MD5: '0c2c1a3a8e9d3d1e5f5b7a8f1a2b3c4d' }), true);
  assert.equal(r.match({ SHA256: 'abc' }), true);
  assert.equal(r.match({ SHA1: '0c2c1a3a8e9d3d1e5f5b7a8f1a2b3c4d' }), false, 'the algorithm name is part of the value');
});

test('network_connection: Initiated from the connection direction, SourceIsIpv6 from the address', () => {
  const out = one('network_connection', "  s:\n    Initiated: 'true'\n    DestinationPort: 3389\n  condition: s");
  assert.equal(out.match({ ActionType: 'ConnectionSuccess', RemotePort: 3389 }), true);
  assert.equal(out.match({ ActionType: 'InboundConnectionAccepted', RemotePort: 3389 }), false);
  const inbound = one('network_connection', "  s:\n    Initiated: 'false'\n  condition: s");
  assert.equal(inbound.match({ ActionType: 'InboundConnectionAccepted' }), true);
  const v6 = one('network_connection', "  s:\n    SourceIsIpv6: 'false'\n  condition: s");
  assert.equal(v6.match({ LocalIP: '10.0.0.4' }), true);
  assert.equal(v6.match({ LocalIP: 'fe80::1' }), false);
});

test('registry: TargetObject with the hive abbreviated as Sysmon writes it, Details as "DWORD (0x…)", the category\'s ActionType', () => {
  const run = one('registry_set', "  s:\n    TargetObject|startswith: 'HKLM\\\\SOFTWARE\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run\\\\'\n    Details: 'DWORD (0x00000001)'\n  condition: s");
  const event = { ActionType: 'RegistryValueSet', RegistryKey: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run', RegistryValueName: 'evil', RegistryValueType: 'Dword', RegistryValueData: '1' };
  assert.equal(run.match(event), true);
  assert.equal(run.match({ ...event, RegistryValueData: '0' }), false);
  assert.equal(run.match({ ...event, ActionType: 'RegistryKeyCreated' }), false, 'registry_set is RegistryValueSet');
  const user = one('registry_event', "  s:\n    TargetObject|endswith: '\\\\Environment\\\\UserInitMprLogonScript'\n    TargetObject|startswith: 'HKU\\\\'\n  condition: s");
  assert.equal(user.match({ ActionType: 'RegistryValueSet', RegistryKey: 'HKEY_CURRENT_USER\\S-1-5-21-1-2-3-1001\\Environment', RegistryValueName: 'UserInitMprLogonScript' }), true);
  const qword = one('registry_set', "  s:\n    Details: 'QWORD (0x00000001-0x00000002)'\n  condition: s");
  assert.equal(qword.match({ ActionType: 'RegistryValueSet', RegistryValueType: 'Qword', RegistryValueData: String(2 ** 32 + 2) }), true);
  const type = one('registry_event', "  s:\n    EventType: DeleteKey\n  condition: s");
  assert.equal(type.match({ ActionType: 'RegistryKeyDeleted' }), true);
});

test('image_load, file events and Linux process events read their own columns', () => {
  const dll = one('image_load', "  s:\n    ImageLoaded|endswith: '\\\\amsi.dll'\n    Image|endswith: '\\\\excel.exe'\n  condition: s");
  assert.equal(dll.match({ FolderPath: 'C:\\Windows\\System32\\amsi.dll', InitiatingProcessFolderPath: 'C:\\Office\\EXCEL.EXE' }), true);
  const del = one('file_delete', "  s:\n    TargetFilename|endswith: '.evtx'\n  condition: s");
  assert.equal(del.match({ ActionType: 'FileDeleted', FolderPath: 'C:\\Logs\\Security.evtx' }), true);
  assert.equal(del.match({ ActionType: 'FileCreated', FolderPath: 'C:\\Logs\\Security.evtx' }), false);
  const lnx = one('process_creation', "  s:\n    Image|endswith: '/at'\n    LogonId: 0\n  condition: s", 'linux');
  assert.equal(lnx.match({ FolderPath: '/usr/bin/at', LogonId: 0 }), true);
});

test('a field with no MDE counterpart refuses the rule, naming the field and why', () => {
  assert.throws(() => one('process_creation', "  s:\n    FileVersion|startswith: '7.0.'\n  condition: s"), (e: unknown) => {
    assert.ok(e instanceof ArcsimError);
    assert.equal(e.code, 'ARCSIM_E_RULE_FIELD');
    assert.match(e.message, /"FileVersion".*not the file version/);
    return true;
  });
  assert.throws(() => one('process_creation', '  s:\n    NoSuchField: x\n  condition: s'), (e: ArcsimError) => e.code === 'ARCSIM_E_RULE_FIELD' && /NoSuchField/.test(e.message));
  // MDE column names work as they are.
  assert.equal(one('process_creation', '  s:\n    ProcessCommandLine: x\n  condition: s').match({ ProcessCommandLine: 'X' }), true);
});

test('the mapping file is validated when loaded', () => {
  const good = readFileSync(MAPPING_FILE, 'utf8');
  assert.doesNotThrow(() => parseMappingFile(good, 'm.yaml'));
  const bad = good.replace('transform: hex, column: LogonId', 'transform: rot13, column: LogonId');
  assert.throws(() => parseMappingFile(bad, 'm.yaml'), (e: ArcsimError) => e.code === 'ARCSIM_E_CONFIG_SCHEMA' && /m\.yaml: fields\.DeviceProcessEvents\.LogonId/.test(e.message));
});
