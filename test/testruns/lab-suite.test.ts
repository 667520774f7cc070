import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSuiteLab } from '../../cli/lab-suite.ts';
import { MULTI_CLOUD_SUITE, multiCloudHosts, prepareMultiCloud } from '../../cli/lab-multicloud.ts';
import { silentLogger } from '../../lib/logger.ts';
import { cleanup, tempDir, TEST_FACTS } from '../helpers.ts';

test('the full lab: real host + EC2 and GCP personas, CSPM snapshots merged, plans deploy the sensors, every multi-cloud cell passes', async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  let out = '';
  // The lab's own hosts and preparation; only the "real host" is given fixed facts, so the test
  // does not depend on the machine it runs on (the personas still sit on this machine's facts).
  const hosts = multiCloudHosts().map((h) => (h.persona ? h : { ...h, facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }) }));
  assert.deepEqual(hosts.map((h) => h.name), ['this-host', 'ec2-sql-server', 'gcp-web', 'eks-node']);
  const started = Date.now();
  const { code, result } = await runSuiteLab({
    dataDir: dir, host: '127.0.0.1', port: 0, suiteFile: MULTI_CLOUD_SUITE, exit: true, logger: silentLogger(),
    out: (s) => (out += s), hosts, prepare: prepareMultiCloud,
  });
  assert.ok(Date.now() - started < 60_000);
  // Every cell passes or is N/A (a row written for the other OS: Windows rows on the Linux hosts, Linux rows on the Windows Server persona).
  assert.deepEqual(result.cells.filter((c) => c.status !== 'pass' && c.status !== 'not-applicable').map((c) => [c.rowId, c.host, c.reasons, c.checks.filter((x) => x.status !== 'pass')]), []);
  assert.equal(code, 0);
  assert.deepEqual(result.hosts.map((h) => `${h.column} ${h.persona}`).sort(), ['EC2AMAZ-SQL01 (aws) ec2-sql-server', 'eks-lab/ip-10-0-3-17 (aws) eks-node', 'gcp-web-01 (gcp) gcp-web', 'lab-host-01 (onprem) null']);
  assert.deepEqual([...new Set(result.cells.map((c) => c.cloud))].sort(), ['aws', 'gcp', 'onprem']);

  // The plans, not the test, switched the sensors on: SQL events were collected on the SQL Server host only.
  const sql = result.cells.find((c) => c.rowId === 'sql-injection')!;
  assert.equal(sql.host, 'EC2AMAZ-SQL01 (aws)');
  assert.ok(sql.events.stored > 0 && !sql.events.notCollected);
  assert.match(out, /EC2AMAZ-SQL01\s+windows\s+MSSQLSERVER \(sqlserver\)\s+MDE\.Windows Succeeded, WindowsAgent\.SqlServer Succeeded, AdvancedThreatProtection\.Windows Succeeded/);
  assert.match(out, /lab-host-01\s+linux\s+-\s+MDE\.Linux Succeeded/);

  // Each persona and its cloud instance are one asset with two sources.
  const merge = result.cells.filter((c) => c.rowId.startsWith('asset-merge') && c.status === 'pass').map((c) => [c.host, c.checks.find((x) => x.name === 'asset merge')!.detail]);
  assert.deepEqual(merge.sort(), [
    ['EC2AMAZ-SQL01 (aws)', '1 asset(s) with 2 source(s); expected 1 with 2: lab-ec2-sql [strong] arc:EC2AMAZ-SQL01 + cspm:lab-ec2-sql'],
    ['gcp-web-01 (gcp)', '1 asset(s) with 2 source(s); expected 1 with 2: gcp-web-01 [strong] arc:gcp-web-01 + cspm:gcp-web-01'],
  ]);
  // Dedup: two plays, one alert with two occurrences; the faulted run lost nothing and counted nothing twice.
  for (const c of result.cells.filter((x) => x.rowId === 'ssh-brute-force' && x.status === 'pass')) assert.deepEqual(c.alerts.map((a) => a.count), [2], c.host);
  assert.deepEqual(result.cells.filter((x) => x.rowId === 'ssh-brute-force' && x.status === 'pass').map((c) => c.host).sort(), ['gcp-web-01 (gcp)', 'lab-host-01 (onprem)']);
  const faulted = result.cells.find((c) => c.rowId === 'ec2-faults')!;
  const plain = result.cells.find((c) => c.rowId === 'rdp-brute-force' && c.status === 'pass')!;
  assert.equal(faulted.events.stored, faulted.events.played);
  assert.deepEqual(faulted.events.played, plain.events.played);
  // Faults change no count: the faulted play's alert has the occurrences of the same play without faults.
  assert.deepEqual(faulted.alerts.map((a) => [a.alertType, a.count]), plain.alerts.map((a) => [a.alertType, a.count]));

  assert.match(out, /^lab-ec2-sql\s+strong\s+AWS\s+arc:EC2AMAZ-SQL01 \+ cspm:lab-ec2-sql\s+Connected/m);
  assert.match(out, /^lab-ec2-web\s+single\s+AWS\s+cspm:lab-ec2-web\s/m);
});
