import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { reportRulesDirs } from '../../control-plane/detection/index.ts';

/**
 * A pinned sample of real SigmaHQ rules (test/fixtures/sigmahq, DRL 1.1, see its LICENSE.md)
 * covering process creation (windash, base64offset, re, Hashes, IntegrityLevel, LogonId),
 * network (cidr, Initiated, SourceIsIpv6), registry (TargetObject, Details), image load, file
 * events, Linux, and the specification's correlation example without `status`. Every rule loads
 * but those reading what MDE does not record, and each of those is refused naming it.
 */
const SAMPLE = join(import.meta.dirname, '..', 'fixtures', 'sigmahq');

test('the pinned SigmaHQ sample loads, and each refusal names the field or log source MDE lacks', () => {
  const report = reportRulesDirs([SAMPLE]);
  assert.ok(report.results.length >= 30);
  const refused = Object.fromEntries(report.refused.map((r) => [basename(r.file), r]));
  assert.deepEqual(Object.keys(refused).sort(), [
    'file_access_win_susp_credential_manager_access.yml', // no MDE table records file reads
    'net_connection_win_rundll32_net_connections.yml', // SourceHostname
    'proc_creation_win_addinutil_suspicious_cmdline.yml', // CurrentDirectory
    'proc_creation_win_susp_elevated_system_shell_uncommon_parent.yml', // CurrentDirectory
  ]);
  assert.match(refused['file_access_win_susp_credential_manager_access.yml']!.message!, /logsource \{category: file_access, product: windows\} has no arcsim event table/);
  assert.match(refused['net_connection_win_rundll32_net_connections.yml']!.message!, /"SourceHostname"/);
  assert.match(refused['proc_creation_win_addinutil_suspicious_cmdline.yml']!.message!, /"CurrentDirectory"/);
  for (const r of report.refused) assert.equal(r.code === 'ARCSIM_E_RULE_FIELD' || r.code === 'ARCSIM_E_RULE_UNSUPPORTED', true);
  const tables = new Set(report.set.detections.map((d) => d.table));
  for (const t of ['DeviceProcessEvents', 'DeviceNetworkEvents', 'DeviceRegistryEvents', 'DeviceImageLoadEvents', 'DeviceFileEvents', 'DeviceLogonEvents']) assert.ok(tables.has(t as never), t);
  assert.equal(report.set.correlations[0]?.title, 'Many failed logins');
});
