import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectSoftware, ecosystemOf, parseDpkgStatus, parseRegUninstall, parseRpmList } from '../../agent/software-inventory.ts';
import { parseSnapshotLines, snapshotLines, softwareDigest, softwareReportOk, softwareRows, type SoftwareItem } from '../../agent/software-rows.ts';
import { Agent } from '../../agent/index.ts';
import { childSoftwareRunner } from '../../agent/inventory-child.ts';
import { EventSchema } from '../../protocol/index.ts';
import { cleanup, startControlPlane, TEST_FACTS } from '../helpers.ts';

// Issue 17, item 4: the host's real installed software, read from the package database.

const STATUS = fileURLToPath(new URL('../fixtures/dpkg/status', import.meta.url));

test('dpkg status: installed packages with their source package (a real excerpt of this lab host)', () => {
  const items = parseDpkgStatus(readFileSync(STATUS, 'utf8'), 'Debian:12', 'debian');
  assert.deepEqual(items.map((i) => i.name).sort(), ['git', 'libexpat1', 'libgnutls30', 'libgssapi-krb5-2', 'libjq1', 'openssl', 'zlib1g']);
  const zlib = items.find((i) => i.name === 'zlib1g')!;
  assert.deepEqual([zlib.version, zlib.sourceName, zlib.sourceVersion], ['1:1.2.13.dfsg-1', 'zlib', '1:1.2.13.dfsg-1']);
  const binNmu = parseDpkgStatus('Package: libfoo1\nStatus: install ok installed\nSource: foo (1.0-1)\nVersion: 1.0-1+b2\n', 'Debian:12', 'debian');
  assert.deepEqual([binNmu[0]!.sourceName, binNmu[0]!.sourceVersion], ['foo', '1.0-1'], 'a binNMU: the source keeps its own version');
  const removed = parseDpkgStatus('Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n', 'Debian:12', 'debian');
  assert.deepEqual(removed, [], 'config-files only: not installed');
});

test('os-release names the OSV ecosystem; an unknown distribution has none', () => {
  assert.equal(ecosystemOf('ID=debian\nVERSION_ID="12"\n'), 'Debian:12');
  assert.equal(ecosystemOf('ID=ubuntu\nVERSION_ID="22.04"\n'), 'Ubuntu:22.04');
  assert.equal(ecosystemOf('ID="almalinux"\nVERSION_ID="9.4"\n'), 'AlmaLinux:9');
  assert.equal(ecosystemOf('ID=arch\n'), '');
});

test('rpm -qa output: epoch 0 dropped, the source RPM name kept', () => {
  const items = parseRpmList('openssl-libs\t1:3.0.7-27.el9\tAlmaLinux\topenssl-3.0.7-27.el9.src.rpm\nbash\t0:5.1.8-9.el9\tAlmaLinux\tbash-5.1.8-9.el9.src.rpm\n', 'AlmaLinux:9');
  assert.deepEqual(items.map((i) => [i.name, i.version, i.sourceName]), [['openssl-libs', '1:3.0.7-27.el9', 'openssl'], ['bash', '5.1.8-9.el9', 'bash']]);
});

test("Windows' uninstall keys (reg query /s output): products with a name and version, system components left out", () => {
  const out = [
    'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{A1B2}',
    '    DisplayName    REG_SZ    Microsoft SQL Server 2022 (64-bit)',
    '    DisplayVersion    REG_SZ    16.0.1000.6',
    '    Publisher    REG_SZ    Microsoft Corporation',
    '',
    'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\KB5031364',
    '    DisplayName    REG_SZ    Update for Windows',
    '    DisplayVersion    REG_SZ    1.0',
    '    SystemComponent    REG_DWORD    0x1',
    '',
    'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\NoVersion',
    '    DisplayName    REG_SZ    Something',
  ].join('\r\n');
  assert.deepEqual(parseRegUninstall(out), [{ name: 'Microsoft SQL Server 2022 (64-bit)', version: '16.0.1000.6', vendor: 'Microsoft Corporation', ecosystem: '' }]);
});

test('on Windows both registry views are queried, without a shell; a failing query is a note, not a crash', async () => {
  const calls: string[][] = [];
  const r = await collectSoftware({ platform: 'win32', runCommand: async (cmd, args) => {
    calls.push([cmd, ...args]);
    if (args[1]!.includes('WOW6432Node')) throw new Error('access denied');
    return 'HKEY_LOCAL_MACHINE\\X\n    DisplayName    REG_SZ    7-Zip 23.01 (x64)\n    DisplayVersion    REG_SZ    23.01\n    Publisher    REG_SZ    Igor Pavlov\n';
  } });
  assert.deepEqual(calls.map((c) => c[0]), ['reg', 'reg']);
  assert.deepEqual(r.items.map((i) => i.name), ['7-Zip 23.01 (x64)']);
  assert.match(r.notes[0]!, /WOW6432Node.*access denied/);
});

test('rows are valid DeviceTvmSoftwareInventory rows of one snapshot; the digest changes only with the software', async () => {
  const { items } = await collectSoftware({ platform: 'linux', dpkgStatusPath: STATUS, osReleasePath: '/nonexistent' });
  const rows = softwareRows({ deviceId: 'dev-1', machine: TEST_FACTS, items, time: Date.UTC(2026, 11, 3), arch: 'x64' });
  assert.equal(rows.length, 7);
  for (const r of rows) assert.ok(EventSchema.safeParse(r).success, JSON.stringify(EventSchema.safeParse(r).error?.issues));
  assert.equal(new Set(rows.map((r) => r.Timestamp)).size, 1);
  assert.equal(new Set(rows.map((r) => r.ReportId)).size, 7);
  assert.equal((rows[0] as Record<string, unknown>).OSArchitecture, '64-bit');
  const d = softwareDigest(items);
  assert.equal(softwareDigest([...items]), d);
  assert.notEqual(softwareDigest(items.map((i) => (i.name === 'libjq1' ? { ...i, version: '1.6-2.1+deb12u3' } : i))), d);
  const declared = await collectSoftware({ platform: 'aix', declared: [{ name: 'Microsoft SQL Server 2022 (64-bit)', version: '16.0.1000.6', vendor: 'Microsoft Corporation' }] });
  assert.deepEqual(declared.items.map((i) => i.name), ['Microsoft SQL Server 2022 (64-bit)'], "a persona's list alone");
});

test('the agent service reads the software in a child (`collect-software`): this host\'s real packages, checked by hand', async () => {
  const { runSoftwareChild } = await import('../../agent/inventory-child.ts');
  const entry = fileURLToPath(new URL('../../bin/arcsim-agent.js', import.meta.url));
  const r = await runSoftwareChild({ entry, args: ['collect-software'], timeoutMs: 120_000 });
  const items = r.items(0, r.count);
  assert.equal(items.length, r.count);
  assert.ok(softwareReportOk({ items, notes: r.notes }));
  assert.equal(r.digest, softwareDigest(items), "the header's digest is the digest of the items printed after it");
  if (process.platform === 'linux' && readFileSync('/etc/os-release', 'utf8').includes('ID=debian')) {
    assert.ok(items.some((i) => i.name === 'dpkg' && i.ecosystem.startsWith('Debian:')), 'dpkg itself is an installed package');
  }
  assert.ok(!softwareReportOk({ items: [{ name: '', version: '1' }], notes: [] }), 'a nameless item is refused');
  assert.ok(!softwareReportOk({ items: [], notes: [], extra: 1 }), 'unknown keys are refused');
});

test("the child's output: a header with the digest, then one item per line, each checked when its slice is read", () => {
  const items: SoftwareItem[] = [
    { name: 'bash', version: '5.2.15-2+b2', vendor: 'debian', ecosystem: 'Debian:12', sourceName: 'bash', sourceVersion: '5.2.15-2' },
    { name: 'Microsoft SQL Server 2022 (64-bit)', version: '16.0.1000.6', vendor: 'Microsoft Corporation', ecosystem: '' },
    { name: 'zlib1g', version: '1:1.2.13.dfsg-1', vendor: 'debian', ecosystem: 'Debian:12', sourceName: 'zlib', sourceVersion: '1:1.2.13.dfsg-1' },
  ];
  const text = snapshotLines({ items, notes: ['a note'] });
  const s = parseSnapshotLines(Buffer.from(text));
  assert.deepEqual([s.digest, s.count, s.notes], [softwareDigest(items), 3, ['a note']]);
  assert.deepEqual([...s.items(0, 2), ...s.items(2, 2)], items, 'read in slices: the same items, in order');
  assert.deepEqual(s.items(3, 2), [], 'past the end: none');
  const empty = parseSnapshotLines(Buffer.from(snapshotLines({ items: [], notes: [] })));
  assert.deepEqual([empty.count, empty.digest], [0, softwareDigest([])]);

  const lines = text.split('\n');
  assert.throws(() => parseSnapshotLines(Buffer.from(text.slice(0, -1))), /last line is cut/);
  assert.throws(() => parseSnapshotLines(Buffer.from([lines[0], lines[1], ''].join('\n'))), /printed 1 software items, its header says 3/);
  assert.throws(() => parseSnapshotLines(Buffer.from(['{"digest":"x","count":0,"notes":[]}', ''].join('\n'))), /invalid software list header/);
  assert.throws(() => parseSnapshotLines(Buffer.from('not json\n')), /without a valid header line/);
  // A bad item is found when its slice is read, naming its line.
  const bad = parseSnapshotLines(Buffer.from([lines[0], lines[1], '{"name":"","version":"1","vendor":"","ecosystem":""}', lines[3], ''].join('\n')));
  assert.deepEqual(bad.items(0, 1), [items[0]]);
  assert.throws(() => bad.items(1, 1), /invalid software item \(line 3\)/);
});

test('a snapshot larger than a slice reaches the control plane whole: every row once, one Timestamp, SnapshotRows the count', async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  // 250 items: three slices of 100, read from the output format the child prints.
  const items: SoftwareItem[] = Array.from({ length: 250 }, (_, k) => ({ name: `pkg-${String(k).padStart(3, '0')}`, version: `1.${k}`, vendor: 'debian', ecosystem: 'Debian:12' }));
  const token = await env.cp.createToken({ subscription: 'sub-slices', resourceGroup: 'rg' });
  const agent = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }),
    softwareInventory: { slicePauseMs: 10, runner: async () => parseSnapshotLines(Buffer.from(snapshotLines({ items, notes: [] }))) },
  });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  const end = Date.now() + 20_000;
  let rows: Array<Record<string, unknown>> = [];
  while (rows.length < 250 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    rows = (await env.store.events.scanEvents({ table: 'DeviceTvmSoftwareInventory', limit: 1000 })) as Array<Record<string, unknown>>;
  }
  assert.equal(rows.length, 250);
  assert.deepEqual(rows.map((r) => r.SoftwareName).sort(), items.map((i) => i.name));
  assert.equal(new Set(rows.map((r) => r.ReportId)).size, 250);
  assert.equal(new Set(rows.map((r) => r.Timestamp)).size, 1);
  assert.ok(rows.every((r) => (r.AdditionalFields as { SnapshotRows: number }).SnapshotRows === 250));
  for (const r of rows.slice(0, 5)) assert.ok(EventSchema.safeParse(r).success);
  // Stored before acked: the last ack may still be on its way.
  await agent.drained();
  assert.equal(agent.pendingEvents(), 0);
});

test("the service's path: the real host's software read in a child and sent in slices, every item one row", async (t) => {
  const env = await startControlPlane();
  t.after(async () => { await env.close(); cleanup(env.dir); });
  const entry = fileURLToPath(new URL('../../bin/arcsim-agent.js', import.meta.url));
  const runner = childSoftwareRunner({ entry, args: ['collect-software'], timeoutMs: 120_000 });
  const expected = await runner();
  const names = expected.items(0, expected.count).map((i) => `${i.name} ${i.version}`).sort();
  const token = await env.cp.createToken({ subscription: 'sub-child', resourceGroup: 'rg' });
  const agent = new Agent({
    controlPlane: env.url, token: token.token, stateDir: join(env.dir, 'agent'), facts: async () => ({ machine: TEST_FACTS, sqlInstances: [] }),
    softwareInventory: { slicePauseMs: 0, runner },
  });
  t.after(() => agent.stop());
  const registered = agent.waitRegistered();
  await agent.start();
  await registered;
  const end = Date.now() + 60_000;
  let rows: Array<Record<string, unknown>> = [];
  while (rows.length < expected.count && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    rows = (await env.store.events.scanEvents({ table: 'DeviceTvmSoftwareInventory', limit: 5000 })) as Array<Record<string, unknown>>;
  }
  assert.equal(rows.length, expected.count);
  assert.deepEqual(rows.map((r) => `${r.SoftwareName} ${r.SoftwareVersion}`).sort(), names);
});
