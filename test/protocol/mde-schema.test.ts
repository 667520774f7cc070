import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ARCSIM_EXTENSION_COLUMNS, columnSchema, columnsOf, EventSchema, TABLE_NAMES, type TableName } from '../../protocol/index.ts';

// Issue 13, item 1: every documented column of the MDE device tables, with its type, checked
// against a pinned copy of Microsoft's advanced-hunting reference (test/fixtures/mde-schema/).

const FIXTURES = fileURLToPath(new URL('../fixtures/mde-schema/', import.meta.url));
const MDE_TABLES = [
  'DeviceProcessEvents', 'DeviceNetworkEvents', 'DeviceFileEvents', 'DeviceLogonEvents', 'DeviceRegistryEvents',
  'DeviceImageLoadEvents', 'DeviceEvents', 'DeviceInfo', 'DeviceNetworkInfo', 'DeviceFileCertificateInfo', 'DeviceTvmSoftwareInventory',
] as const;

interface DocColumn { name: string; type: string; description: string }

/** The rows of a pinned reference table: `| \`Column\` | \`type\` | description |`. */
function docColumns(table: string): DocColumn[] {
  const text = readFileSync(`${FIXTURES}${table}.md`, 'utf8');
  const rows: DocColumn[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length < 3 || cells[0] === 'Column name' || /^-+$/.test(cells[0]!)) continue;
    const unquote = (c: string) => c.replaceAll('`', '').trim();
    rows.push({ name: unquote(cells[0]!), type: unquote(cells[1]!), description: cells.slice(2).join('|') });
  }
  return rows;
}

const REPORT_ID = '01937a5e-8c00-7000-8000-000000000001';

/** The smallest row of `table` the reference allows arcsim to take: required columns only. */
function baseRow(table: string, doc: DocColumn[]): Record<string, unknown> {
  const row: Record<string, unknown> = {
    Table: table, Timestamp: '2024-09-06T10:00:00Z', DeviceId: 'dev-1', DeviceName: 'host1.contoso.com', ReportId: REPORT_ID,
  };
  if (doc.some((c) => c.name === 'ActionType')) row.ActionType = 'SomethingHappened';
  return row;
}

/** A value of the documented type, and values of other types the column must refuse. */
function probes(type: string): { good: unknown; bad: unknown[] } {
  switch (type) {
    case 'string': return { good: 'x', bad: [1, true] };
    case 'long': return { good: 2 ** 40, bad: ['1234', 1.5] };
    case 'int': return { good: 443, bad: ['443', 1.5, 2 ** 40] };
    case 'datetime': return { good: '2024-09-06T10:00:00.123Z', bad: ['yesterday', 1_725_616_800_000] };
    case 'bool': case 'boolean': return { good: true, bad: ['true', 1] };
    case 'dynamic': return { good: [{ a: 1 }], bad: [] };
    default: throw new Error(`unknown reference type ${type}`);
  }
}

/** Columns the reference types `string` but holds JSON in: arcsim also takes the JSON value itself. */
function isJsonColumn(c: DocColumn): boolean {
  return c.type === 'dynamic' || (c.type === 'string' && (/JSON/.test(c.description) || c.name === 'AdditionalFields'));
}

const accepts = (row: Record<string, unknown>) => EventSchema.safeParse(row).success;

test('the pinned reference has the eleven device tables, and arcsim has each of them', () => {
  for (const table of MDE_TABLES) {
    assert.ok(docColumns(table).length >= 11, `${table}: pinned table parsed`);
    assert.ok(TABLE_NAMES.includes(table), `arcsim has table ${table}`);
  }
  assert.ok(TABLE_NAMES.includes('SqlEvents'), 'arcsim keeps its SQL audit table');
});

for (const table of MDE_TABLES) {
  test(`${table}: exactly the documented columns (plus Table, DetonationId and arcsim's named extensions)`, () => {
    const documented = docColumns(table).map((c) => c.name);
    const expected = new Set([...documented, 'Table', 'DetonationId', ...(ARCSIM_EXTENSION_COLUMNS[table] ?? [])]);
    const actual = new Set(columnsOf(table as TableName));
    const missing = [...expected].filter((c) => !actual.has(c));
    const extra = [...actual].filter((c) => !expected.has(c));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
  });

  test(`${table}: every documented column takes a value of its type and refuses other types`, () => {
    const doc = docColumns(table);
    const base = baseRow(table, doc);
    assert.ok(accepts(base), `${table}: the minimal row is accepted`);
    for (const c of doc) {
      if (c.name === 'ReportId' || c.name in base) continue; // ReportId: arcsim's UUIDv7, tested below
      const { good, bad } = probes(c.type);
      assert.ok(accepts({ ...base, [c.name]: good }), `${table}.${c.name} (${c.type}) takes ${JSON.stringify(good)}`);
      for (const b of bad) assert.ok(!accepts({ ...base, [c.name]: b }), `${table}.${c.name} (${c.type}) refuses ${JSON.stringify(b)}`);
      if (isJsonColumn(c)) {
        assert.ok(accepts({ ...base, [c.name]: [{ IPAddress: '10.0.0.4', SubnetPrefix: 24 }] }), `${table}.${c.name} takes a JSON array`);
        assert.ok(accepts({ ...base, [c.name]: { Key: 'v' } }), `${table}.${c.name} takes a JSON object`);
      }
    }
  });

  test(`${table}: unknown columns are refused`, () => {
    const base = baseRow(table, docColumns(table));
    assert.ok(!accepts({ ...base, CommandLine: 'cmd.exe' }), 'a Sysmon field name is not an MDE column');
    assert.ok(!accepts({ ...base, Processid: 1 }), 'column names are case-sensitive');
  });
}

test('arcsim extends only DeviceFileCertificateInfo and DeviceTvmSoftwareInventory, each as docs say', () => {
  assert.deepEqual(ARCSIM_EXTENSION_COLUMNS, {
    DeviceFileCertificateInfo: ['AdditionalFields'],
    // The reference gives this state table no time nor row id; arcsim's rows carry both.
    DeviceTvmSoftwareInventory: ['Timestamp', 'ReportId', 'AdditionalFields'],
  });
  const tvm = baseRow('DeviceTvmSoftwareInventory', docColumns('DeviceTvmSoftwareInventory'));
  assert.ok(!('ActionType' in tvm), 'DeviceTvmSoftwareInventory has no ActionType in the reference');
  assert.ok(accepts({ ...tvm, SoftwareName: 'libexpat1', SoftwareVersion: '2.5.0-1+deb12u1', AdditionalFields: { Ecosystem: 'Debian:12', SnapshotRows: 1 } }));
  assert.ok(!accepts({ ...tvm, ActionType: 'SoftwareInstalled' }), 'a state table refuses an ActionType');
  const base = baseRow('DeviceFileCertificateInfo', docColumns('DeviceFileCertificateInfo'));
  assert.ok(!('ActionType' in base), 'DeviceFileCertificateInfo has no ActionType in the reference');
  assert.ok(accepts({ ...base, SHA1: 'ab'.repeat(20), IsSigned: false, AdditionalFields: { SignatureStatus: 'Unavailable' } }));
});

test('ReportId stays arcsim\'s UUIDv7 (the reference\'s counter long is refused)', () => {
  const base = baseRow('DeviceProcessEvents', docColumns('DeviceProcessEvents'));
  assert.ok(!accepts({ ...base, ReportId: 1234 }));
  assert.ok(!accepts({ ...base, ReportId: '0b9f0f5e-7b1a-4c1d-9e2f-3a4b5c6d7e8f' }), 'a UUIDv4 is refused');
});

test('Timestamp, ReportId and DetonationId: the row check accepts and refuses exactly what each column\'s own zod schema does', () => {
  // The row check tests these three without a zod parse (protocol/events.ts, formatTest); zod's
  // schema stays the reference. Expected verdicts from RFC 3339 (dates exist, seconds required,
  // offset or Z) and RFC 9562 (version nibble 7, variant 10xx).
  const base = baseRow('DeviceProcessEvents', docColumns('DeviceProcessEvents'));
  const timestamps: Array<[unknown, boolean]> = [
    ['2024-09-06T10:00:00Z', true], ['2024-09-06T10:00:00.1234567Z', true], ['2024-09-06T10:00:00+05:30', true],
    ['2024-02-29T00:00:00Z', true], ['2023-02-29T00:00:00Z', false], ['2024-04-31T00:00:00Z', false],
    ['2024-09-06T24:00:00Z', false], ['2024-09-06T10:00Z', false], ['2024-09-06 10:00:00Z', false],
    ['2024-09-06T10:00:00', false], ['2024-09-06T10:00:00Z ', false], ['', false], [1725616800000, false],
  ];
  const reportIds: Array<[unknown, boolean]> = [
    [REPORT_ID, true], ['0191c4a2-7b1a-7c1d-9e2f-3a4b5c6d7e8f', true], ['0191C4A2-7B1A-7C1D-BE2F-3A4B5C6D7E8F', true],
    ['0191c4a2-7b1a-4c1d-9e2f-3a4b5c6d7e8f', false], ['0191c4a2-7b1a-7c1d-7e2f-3a4b5c6d7e8f', false],
    ['0191c4a27b1a7c1d9e2f3a4b5c6d7e8f', false], [`${REPORT_ID}\n`, false], [42, false],
  ];
  const detonations: Array<[unknown, boolean]> = [['d', true], ['d'.repeat(128), true], ['', false], ['d'.repeat(129), false], [7, false]];
  for (const [column, cases] of [['Timestamp', timestamps], ['ReportId', reportIds], ['DetonationId', detonations]] as const) {
    const own = columnSchema('DeviceProcessEvents', column)!;
    for (const [value, valid] of cases) {
      assert.equal(own.safeParse(value).success, valid, `zod's ${column} schema on ${JSON.stringify(value)}`);
      assert.equal(accepts({ ...base, [column]: value }), valid, `the row check's ${column} on ${JSON.stringify(value)}`);
    }
  }
});

test('event tables need an ActionType; the DeviceInfo and DeviceNetworkInfo state tables have none', () => {
  const proc = baseRow('DeviceProcessEvents', docColumns('DeviceProcessEvents'));
  delete proc.ActionType;
  assert.ok(!accepts(proc));
  for (const state of ['DeviceInfo', 'DeviceNetworkInfo']) {
    const row = baseRow(state, docColumns(state));
    assert.equal(row.ActionType, undefined, `${state} documents no ActionType`);
    assert.ok(accepts(row));
    assert.ok(!accepts({ ...row, ActionType: 'X' }), `${state} refuses an ActionType`);
  }
});

test('a DeviceNetworkInfo row as the agent sends it (IPAddresses as a JSON array) is accepted whole', () => {
  const row = {
    Table: 'DeviceNetworkInfo', Timestamp: '2024-09-06T10:00:00Z', DeviceId: 'dev-1', DeviceName: 'host1', ReportId: REPORT_ID,
    NetworkAdapterName: 'eth0', MacAddress: '02-42-AC-11-00-02', NetworkAdapterType: 'Ethernet', NetworkAdapterStatus: 'Up',
    IPAddresses: [{ IPAddress: '172.17.0.2', SubnetPrefix: 16, AddressType: 'Private' }],
  };
  assert.ok(accepts(row));
});
