import { z } from 'zod';

/**
 * Sensor events and device state rows. The Device* tables carry every column of Microsoft's
 * advanced-hunting reference (pinned in test/fixtures/mde-schema/, checked by
 * test/protocol/mde-schema.test.ts), so hunting queries and Sigma field mappings read as they
 * would on MDE; SqlEvents is arcsim's own SQL audit table. Every row names its table in `Table`;
 * every column but the required ones is optional; unknown columns are refused. DeviceFileCertificateInfo
 * (signer facts per file, by SHA1) is a state table like DeviceInfo: no ActionType.
 *
 * Where arcsim departs from the reference, on purpose:
 * - `ReportId` is the event's UUIDv7 (MDE's is a per-device counter `long`): redelivery dedups on it.
 * - `DetonationId` (arcsim's own) ties an event to the scenario run that played it.
 * - Columns the reference types `string` but describes as JSON (`AdditionalFields`,
 *   `IPAddresses`, `LoggedOnUsers`, ...) also take the JSON value itself, as Log Analytics
 *   holds them (`dynamic`).
 */

/** Column types of the reference, plus `json` for the JSON-valued columns above. */
export type ColumnType = 'string' | 'long' | 'int' | 'datetime' | 'bool' | 'json';

const str = z.string().max(32_768);
const jsonValue = z.union([str, z.array(z.json()), z.record(z.string(), z.json())]);
const INT32 = 2 ** 31;

/** The zod schema of each column type; `long` is any safe integer (a JS number holds no more). */
const TYPE_SCHEMAS: Record<ColumnType, z.ZodType> = {
  string: str,
  long: z.number().int(),
  int: z.number().int().min(-INT32).max(INT32 - 1),
  datetime: z.iso.datetime({ offset: true }),
  bool: z.boolean(),
  json: jsonValue,
};

/** Narrower schemas where the value's domain is known (ports, ids, sizes), still of the column's type. */
const port = z.number().int().min(0).max(65_535);
const nonNegative = z.number().int().nonnegative();
const REFINED: Record<string, z.ZodType> = {
  LocalPort: port, RemotePort: port, RequestSourcePort: port,
  ProcessId: nonNegative, InitiatingProcessId: nonNegative, InitiatingProcessParentId: nonNegative,
  FileSize: nonNegative, InitiatingProcessFileSize: nonNegative,
};

/**
 * Every column of the tables below with its type. A column name means the same thing, with the
 * same type, in every table that has it (true of the reference too).
 */
export const COLUMN_TYPES = {
  // Identity and time (ReportId, Table, DetonationId: see COMMON_COLUMNS).
  Timestamp: 'datetime', DeviceId: 'string', DeviceName: 'string', ActionType: 'string',
  // The file acted on.
  FileName: 'string', FolderPath: 'string', SHA1: 'string', SHA256: 'string', MD5: 'string', FileSize: 'long',
  FileOriginUrl: 'string', FileOriginReferrerUrl: 'string', FileOriginIP: 'string',
  PreviousFolderPath: 'string', PreviousFileName: 'string',
  SensitivityLabel: 'string', SensitivitySubLabel: 'string', IsAzureInfoProtectionApplied: 'bool', ShareName: 'string',
  // The created process.
  ProcessVersionInfoCompanyName: 'string', ProcessVersionInfoProductName: 'string',
  ProcessVersionInfoProductVersion: 'string', ProcessVersionInfoInternalFileName: 'string',
  ProcessVersionInfoOriginalFileName: 'string', ProcessVersionInfoFileDescription: 'string',
  ProcessId: 'long', ProcessCommandLine: 'string', ProcessIntegrityLevel: 'string', ProcessTokenElevation: 'string',
  ProcessCreationTime: 'datetime', CreatedProcessSessionId: 'long', IsProcessRemoteSession: 'bool',
  ProcessRemoteSessionDeviceName: 'string', ProcessRemoteSessionIP: 'string',
  // The account.
  AccountDomain: 'string', AccountName: 'string', AccountSid: 'string', AccountUpn: 'string', AccountObjectId: 'string',
  LogonId: 'long', LogonType: 'string', IsLocalAdmin: 'bool', FailureReason: 'string',
  // The initiating process.
  InitiatingProcessAccountDomain: 'string', InitiatingProcessAccountName: 'string',
  InitiatingProcessAccountSid: 'string', InitiatingProcessAccountUpn: 'string',
  InitiatingProcessAccountObjectId: 'string', InitiatingProcessLogonId: 'long',
  InitiatingProcessIntegrityLevel: 'string', InitiatingProcessTokenElevation: 'string',
  InitiatingProcessSHA1: 'string', InitiatingProcessSHA256: 'string', InitiatingProcessMD5: 'string',
  InitiatingProcessFileName: 'string', InitiatingProcessFileSize: 'long',
  InitiatingProcessVersionInfoCompanyName: 'string', InitiatingProcessVersionInfoProductName: 'string',
  InitiatingProcessVersionInfoProductVersion: 'string', InitiatingProcessVersionInfoInternalFileName: 'string',
  InitiatingProcessVersionInfoOriginalFileName: 'string', InitiatingProcessVersionInfoFileDescription: 'string',
  InitiatingProcessId: 'long', InitiatingProcessCommandLine: 'string', InitiatingProcessCreationTime: 'datetime',
  InitiatingProcessFolderPath: 'string', InitiatingProcessParentId: 'long', InitiatingProcessParentFileName: 'string',
  InitiatingProcessParentCreationTime: 'datetime', InitiatingProcessSignerType: 'string',
  InitiatingProcessSignatureStatus: 'string', InitiatingProcessSessionId: 'long',
  IsInitiatingProcessRemoteSession: 'bool', InitiatingProcessRemoteSessionDeviceName: 'string',
  InitiatingProcessRemoteSessionIP: 'string',
  // Network.
  RemoteIP: 'string', RemotePort: 'int', RemoteUrl: 'string', RemoteIPType: 'string', RemoteDeviceName: 'string',
  LocalIP: 'string', LocalPort: 'int', LocalIPType: 'string', Protocol: 'string',
  RequestProtocol: 'string', RequestSourceIP: 'string', RequestSourcePort: 'int',
  RequestAccountName: 'string', RequestAccountDomain: 'string', RequestAccountSid: 'string',
  // Registry.
  RegistryKey: 'string', RegistryValueType: 'string', RegistryValueName: 'string', RegistryValueData: 'string',
  PreviousRegistryKey: 'string', PreviousRegistryValueName: 'string', PreviousRegistryValueData: 'string',
  // Misc.
  AppGuardContainerId: 'string', AdditionalFields: 'json',
  // DeviceInfo.
  ClientVersion: 'string', PublicIP: 'string', OSArchitecture: 'string', OSPlatform: 'string', OSBuild: 'long',
  IsAzureADJoined: 'bool', JoinType: 'string', AadDeviceId: 'string', LoggedOnUsers: 'json',
  RegistryDeviceTag: 'string', OSVersion: 'string', MachineGroup: 'string', OnboardingStatus: 'string',
  DeviceCategory: 'string', DeviceType: 'string', DeviceSubtype: 'string', Model: 'string', Vendor: 'string',
  OSDistribution: 'string', OSVersionInfo: 'string', MergedDeviceIds: 'string', MergedToDeviceId: 'string',
  IsInternetFacing: 'bool', SensorHealthState: 'string', IsExcluded: 'bool', ExclusionReason: 'string',
  ExposureLevel: 'string', AssetValue: 'string', DeviceManualTags: 'string', DeviceDynamicTags: 'string',
  ConnectivityType: 'string', HostDeviceId: 'string', AzureResourceId: 'string', AwsResourceName: 'string',
  GcpFullResourceName: 'string',
  // DeviceNetworkInfo.
  NetworkAdapterName: 'string', MacAddress: 'string', NetworkAdapterType: 'string', NetworkAdapterStatus: 'string',
  TunnelType: 'string', ConnectedNetworks: 'json', DnsAddresses: 'json', IPv4Dhcp: 'string', IPv6Dhcp: 'string',
  DefaultGateways: 'json', IPAddresses: 'json', NetworkAdapterVendor: 'string',
  // DeviceFileCertificateInfo.
  IsSigned: 'bool', SignatureType: 'string', Signer: 'string', SignerHash: 'string', Issuer: 'string',
  IssuerHash: 'string', CertificateSerialNumber: 'string', CrlDistributionPointUrls: 'json',
  CertificateCreationTime: 'datetime', CertificateExpirationTime: 'datetime', CertificateCountersignatureTime: 'datetime',
  IsTrusted: 'bool', IsRootSignerMicrosoft: 'bool',
  // DeviceTvmSoftwareInventory.
  SoftwareVendor: 'string', SoftwareName: 'string', SoftwareVersion: 'string', EndOfSupportStatus: 'string',
  EndOfSupportDate: 'datetime', ProductCodeCpe: 'string',
  // SqlEvents (arcsim's own).
  InstanceName: 'string', DatabaseName: 'string', ServerPrincipalName: 'string', ClientIP: 'string',
  ApplicationName: 'string', Succeeded: 'bool', Statement: 'string', ErrorNumber: 'long',
  // KubernetesAudit (the columns of Log Analytics' AKSAudit table, from an audit.k8s.io/v1 Event).
  AuditId: 'string', Level: 'string', Stage: 'string', Verb: 'string', RequestUri: 'string', UserAgent: 'string',
  User: 'json', ImpersonatedUser: 'json', SourceIps: 'json', ObjectRef: 'json', ResponseStatus: 'json',
  RequestObject: 'json', ResponseObject: 'json', Annotations: 'json', RequestReceivedTime: 'datetime',
  StageReceivedTime: 'datetime', PodName: 'string',
} as const satisfies Record<string, ColumnType>;
export type ColumnName = keyof typeof COLUMN_TYPES;

// Column groups the reference repeats from table to table.
const FILE = ['FileName', 'FolderPath', 'SHA1', 'SHA256', 'MD5'] as const;
const IP_ACCOUNT = [
  'InitiatingProcessAccountDomain', 'InitiatingProcessAccountName', 'InitiatingProcessAccountSid',
  'InitiatingProcessAccountUpn', 'InitiatingProcessAccountObjectId',
] as const;
const IP_INTEGRITY = ['InitiatingProcessIntegrityLevel', 'InitiatingProcessTokenElevation'] as const;
const IP_HASHES = ['InitiatingProcessSHA1', 'InitiatingProcessSHA256', 'InitiatingProcessMD5'] as const;
const IP_VERSION = [
  'InitiatingProcessVersionInfoCompanyName', 'InitiatingProcessVersionInfoProductName',
  'InitiatingProcessVersionInfoProductVersion', 'InitiatingProcessVersionInfoInternalFileName',
  'InitiatingProcessVersionInfoOriginalFileName', 'InitiatingProcessVersionInfoFileDescription',
] as const;
const IP_IMAGE = [...IP_HASHES, 'InitiatingProcessFileName', 'InitiatingProcessFileSize', ...IP_VERSION] as const;
const IP_PROCESS = [
  'InitiatingProcessId', 'InitiatingProcessCommandLine', 'InitiatingProcessCreationTime', 'InitiatingProcessFolderPath',
] as const;
const IP_PARENT = ['InitiatingProcessParentId', 'InitiatingProcessParentFileName', 'InitiatingProcessParentCreationTime'] as const;
const IP_SESSION = [
  'InitiatingProcessSessionId', 'IsInitiatingProcessRemoteSession', 'InitiatingProcessRemoteSessionDeviceName',
  'InitiatingProcessRemoteSessionIP',
] as const;
const PROCESS_SESSION = ['CreatedProcessSessionId', 'IsProcessRemoteSession', 'ProcessRemoteSessionDeviceName', 'ProcessRemoteSessionIP'] as const;
/** Every initiating-process column of the event tables. */
const INITIATING = [...IP_ACCOUNT, ...IP_INTEGRITY, ...IP_IMAGE, ...IP_PROCESS, ...IP_PARENT] as const;

/**
 * The columns of each table beyond COMMON_COLUMNS. `ActionType` is listed where the table has
 * it (the event tables; the DeviceInfo and DeviceNetworkInfo state tables do not).
 */
export const TABLE_COLUMN_NAMES = {
  DeviceProcessEvents: [
    'ActionType', ...FILE, 'FileSize',
    'ProcessVersionInfoCompanyName', 'ProcessVersionInfoProductName', 'ProcessVersionInfoProductVersion',
    'ProcessVersionInfoInternalFileName', 'ProcessVersionInfoOriginalFileName', 'ProcessVersionInfoFileDescription',
    'ProcessId', 'ProcessCommandLine', 'ProcessIntegrityLevel', 'ProcessTokenElevation', 'ProcessCreationTime',
    'AccountDomain', 'AccountName', 'AccountSid', 'AccountUpn', 'AccountObjectId', 'LogonId',
    ...INITIATING, 'InitiatingProcessLogonId', 'InitiatingProcessSignerType', 'InitiatingProcessSignatureStatus',
    'AppGuardContainerId', 'AdditionalFields', ...IP_SESSION, ...PROCESS_SESSION,
  ],
  DeviceNetworkEvents: [
    'ActionType', 'RemoteIP', 'RemotePort', 'RemoteUrl', 'LocalIP', 'LocalPort', 'Protocol', 'LocalIPType', 'RemoteIPType',
    ...INITIATING, 'AppGuardContainerId', 'AdditionalFields', ...IP_SESSION,
  ],
  DeviceFileEvents: [
    'ActionType', ...FILE, 'FileOriginUrl', 'FileOriginReferrerUrl', 'FileOriginIP', 'PreviousFolderPath',
    'PreviousFileName', 'FileSize', ...INITIATING,
    'RequestProtocol', 'RequestSourceIP', 'RequestSourcePort', 'RequestAccountName', 'RequestAccountDomain',
    'RequestAccountSid', 'ShareName', 'SensitivityLabel', 'SensitivitySubLabel', 'IsAzureInfoProtectionApplied',
    'AppGuardContainerId', 'AdditionalFields', ...IP_SESSION,
  ],
  DeviceLogonEvents: [
    'ActionType', 'LogonType', 'AccountDomain', 'AccountName', 'AccountSid', 'Protocol', 'FailureReason', 'IsLocalAdmin',
    'LogonId', 'RemoteDeviceName', 'RemoteIP', 'RemoteIPType', 'RemotePort',
    ...INITIATING, 'AppGuardContainerId', 'AdditionalFields', ...IP_SESSION,
  ],
  DeviceRegistryEvents: [
    'ActionType', 'RegistryKey', 'RegistryValueType', 'RegistryValueName', 'RegistryValueData',
    'PreviousRegistryKey', 'PreviousRegistryValueName', 'PreviousRegistryValueData',
    ...INITIATING, 'AppGuardContainerId', ...IP_SESSION,
  ],
  DeviceImageLoadEvents: [
    'ActionType', ...FILE, 'FileSize', ...INITIATING, 'AppGuardContainerId', ...IP_SESSION,
  ],
  DeviceEvents: [
    'ActionType', ...FILE, 'FileSize', 'AccountDomain', 'AccountName', 'AccountSid', 'RemoteUrl', 'RemoteDeviceName',
    'ProcessId', 'ProcessCommandLine', 'ProcessCreationTime', 'ProcessTokenElevation', 'LogonId',
    'RegistryKey', 'RegistryValueName', 'RegistryValueData', 'RemoteIP', 'RemotePort', 'LocalIP', 'LocalPort',
    // The reference documents no initiating-process integrity or elevation here.
    'FileOriginUrl', 'FileOriginIP', ...IP_ACCOUNT, ...IP_IMAGE, ...IP_PROCESS, ...IP_PARENT, 'InitiatingProcessLogonId',
    'AppGuardContainerId', 'AdditionalFields', ...IP_SESSION, ...PROCESS_SESSION,
  ],
  DeviceInfo: [
    'ClientVersion', 'PublicIP', 'OSArchitecture', 'OSPlatform', 'OSBuild', 'IsAzureADJoined', 'JoinType', 'AadDeviceId',
    'LoggedOnUsers', 'RegistryDeviceTag', 'OSVersion', 'MachineGroup', 'OnboardingStatus', 'AdditionalFields',
    'DeviceCategory', 'DeviceType', 'DeviceSubtype', 'Model', 'Vendor', 'OSDistribution', 'OSVersionInfo',
    'MergedDeviceIds', 'MergedToDeviceId', 'IsInternetFacing', 'SensorHealthState', 'IsExcluded', 'ExclusionReason',
    'ExposureLevel', 'AssetValue', 'DeviceManualTags', 'DeviceDynamicTags', 'ConnectivityType', 'HostDeviceId',
    'AzureResourceId', 'AwsResourceName', 'GcpFullResourceName',
  ],
  DeviceNetworkInfo: [
    'NetworkAdapterName', 'MacAddress', 'NetworkAdapterType', 'NetworkAdapterStatus', 'TunnelType', 'ConnectedNetworks',
    'DnsAddresses', 'IPv4Dhcp', 'IPv6Dhcp', 'DefaultGateways', 'IPAddresses', 'NetworkAdapterVendor',
  ],
  DeviceFileCertificateInfo: [
    'SHA1', 'IsSigned', 'SignatureType', 'Signer', 'SignerHash', 'Issuer', 'IssuerHash', 'CertificateSerialNumber',
    'CrlDistributionPointUrls', 'CertificateCreationTime', 'CertificateExpirationTime', 'CertificateCountersignatureTime',
    'IsTrusted', 'IsRootSignerMicrosoft',
    // arcsim's extension (ARCSIM_EXTENSION_COLUMNS): what a recorded Sysmon event 7 says of the file beyond these columns.
    'AdditionalFields',
  ],
  DeviceTvmSoftwareInventory: [
    'OSPlatform', 'OSVersion', 'OSArchitecture', 'SoftwareVendor', 'SoftwareName', 'SoftwareVersion', 'EndOfSupportStatus',
    'EndOfSupportDate', 'ProductCodeCpe',
    // arcsim's extension (ARCSIM_EXTENSION_COLUMNS): the OSV ecosystem, source package and snapshot size.
    'AdditionalFields',
  ],
  SqlEvents: [
    'ActionType', 'InstanceName', 'DatabaseName', 'ServerPrincipalName', 'ClientIP', 'ApplicationName', 'Succeeded',
    'Statement', 'ErrorNumber',
  ],
  // Kubernetes API server audit events (docs/kubernetes.md): the AKSAudit / AKSAuditAdmin columns of
  // Azure Monitor Logs, each filled from the audit.k8s.io/v1 Event field of the same name; DeviceId and
  // DeviceName name the cluster. No ActionType: the event's Verb says what was done.
  KubernetesAudit: [
    'AuditId', 'Level', 'Stage', 'Verb', 'RequestUri', 'User', 'ImpersonatedUser', 'SourceIps', 'UserAgent', 'ObjectRef',
    'ResponseStatus', 'RequestObject', 'ResponseObject', 'RequestReceivedTime', 'StageReceivedTime', 'Annotations', 'PodName',
  ],
} as const;

export type TableName = keyof typeof TABLE_COLUMN_NAMES;

/**
 * Columns arcsim adds to a table the reference documents without them, each an arcsim extension
 * (docs/detection.md, "File profiles"): DeviceFileCertificateInfo's `AdditionalFields` holds what a
 * recorded Sysmon event 7 carries about the file that no MDE column records (Sysmon's
 * `SignatureStatus`, and the version information of a module that never ran as a process).
 * DeviceTvmSoftwareInventory is a state table the reference documents without a time or a row id;
 * arcsim's rows carry both (`Timestamp`: when the agent read the inventory, the same for every row
 * of one snapshot; `ReportId`: the row's UUIDv7, for redelivery), and `AdditionalFields` with what
 * matching advisories needs beyond MDE's columns (docs/vulnerabilities.md).
 */
export const ARCSIM_EXTENSION_COLUMNS: Partial<Record<TableName, readonly string[]>> = {
  DeviceFileCertificateInfo: ['AdditionalFields'],
  DeviceTvmSoftwareInventory: ['Timestamp', 'ReportId', 'AdditionalFields'],
};
export const TABLE_NAMES = Object.keys(TABLE_COLUMN_NAMES) as TableName[];

/** Columns every table has. `ReportId` is the event's UUIDv7, the key redelivery dedups on. */
export const COMMON_COLUMNS = {
  Timestamp: z.iso.datetime({ offset: true }),
  DeviceId: z.string().min(1).max(128),
  DeviceName: z.string().min(1).max(255),
  ReportId: z.uuid({ version: 'v7' }),
  DetonationId: z.string().min(1).max(128).optional(),
};

/** `ActionType` is required in the tables that have it: every event says what happened. */
const ACTION_TYPE = z.string().min(1).max(128);

function schemaOfColumn(column: string): z.ZodType {
  if (column === 'ActionType') return ACTION_TYPE;
  const type = (COLUMN_TYPES as Record<string, ColumnType>)[column];
  if (!type) throw new Error(`protocol/events: column ${column} has no type`);
  return REFINED[column] ?? TYPE_SCHEMAS[type];
}

type ColumnShape<T extends TableName> = { [C in (typeof TABLE_COLUMN_NAMES)[T][number]]: z.ZodType };

/** Each table's own columns with their schemas (built once, at module load). */
export const TABLE_COLUMNS = Object.fromEntries(
  TABLE_NAMES.map((t) => [t, Object.fromEntries(TABLE_COLUMN_NAMES[t].map((c) => [c, schemaOfColumn(c)]))]),
) as { [T in TableName]: ColumnShape<T> };

/** The TypeScript type of a value of each column type. */
interface ColumnValue {
  string: string; long: number; int: number; datetime: string; bool: boolean;
  json: string | unknown[] | { [key: string]: unknown };
}
type ColumnsOf<T extends TableName> = (typeof TABLE_COLUMN_NAMES)[T][number];
/** One row of `T`: the common columns, ActionType where the table has it, every other column optional. */
export type TableRow<T extends TableName> = {
  Table: T; Timestamp: string; DeviceId: string; DeviceName: string; ReportId: string; DetonationId?: string;
} & { [C in Exclude<ColumnsOf<T>, 'ActionType'>]?: ColumnValue[(typeof COLUMN_TYPES)[C]] }
  & ('ActionType' extends ColumnsOf<T> ? { ActionType: string } : { ActionType?: never });

/** One row of any table, as it travels and as rules see it. */
export type SensorEvent = { [T in TableName]: TableRow<T> }[TableName];

/**
 * Exact shortcuts for the common schemas: true only when the zod schema would accept the value
 * (a false sends the value to zod, which decides and words the issue). Most columns are strings
 * and integers, and a plain type test is several times cheaper than a zod parse per column.
 */
const FAST = new Map<z.ZodType, (v: unknown) => boolean>([
  [str, (v) => typeof v === 'string' && v.length <= 32_768],
  [ACTION_TYPE, (v) => typeof v === 'string' && v.length >= 1 && v.length <= 128],
  [COMMON_COLUMNS.DeviceId, (v) => typeof v === 'string' && v.length >= 1 && v.length <= 128],
  [COMMON_COLUMNS.DeviceName, (v) => typeof v === 'string' && v.length >= 1 && v.length <= 255],
  [TYPE_SCHEMAS.long, (v) => Number.isSafeInteger(v)],
  [TYPE_SCHEMAS.int, (v) => Number.isSafeInteger(v) && (v as number) >= -INT32 && (v as number) < INT32],
  [TYPE_SCHEMAS.bool, (v) => typeof v === 'boolean'],
  [port, (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 65_535],
  [nonNegative, (v) => Number.isSafeInteger(v) && (v as number) >= 0],
  [COMMON_COLUMNS.DetonationId, (v) => typeof v === 'string' && v.length >= 1 && v.length <= 128],
  ...[COMMON_COLUMNS.Timestamp, COMMON_COLUMNS.ReportId, TYPE_SCHEMAS.datetime].flatMap((schema) => {
    const test = formatTest(schema);
    return test ? [[schema, test] as const] : [];
  }),
]);

/**
 * A string-format schema's own test (`z.iso.datetime`, `z.uuid`: the format's pattern is all they
 * check), run without zod's parse around it: every event's Timestamp and ReportId took a full
 * `safeParse` each (issue 16, docs/performance.md "Change 5"). Undefined, so zod decides, for any
 * schema that checks more than its pattern.
 */
function formatTest(schema: z.ZodType): ((v: unknown) => boolean) | undefined {
  const internals = (schema as unknown as { _zod: { def: { type?: string; check?: string; checks?: unknown[] }; pattern?: unknown } })._zod;
  const { def, pattern } = internals;
  if (def.type !== 'string' || def.check !== 'string_format' || (def.checks?.length ?? 0) > 0 || !(pattern instanceof RegExp) || pattern.global || pattern.sticky) return undefined;
  return (v) => typeof v === 'string' && pattern.test(v);
}
interface Column { schema: z.ZodType; fast: ((v: unknown) => boolean) | undefined }

/** Per table, every column it allows (common ones included) with its schema; built once. */
const ROW_COLUMNS = new Map<string, Map<string, Column>>(TABLE_NAMES.map((t) => [t, new Map<string, Column>(
  [...Object.entries(COMMON_COLUMNS), ...Object.entries(TABLE_COLUMNS[t])].map(([c, schema]) => [c, { schema: schema as z.ZodType, fast: FAST.get(schema as z.ZodType) }]),
)]));
/** Columns a row of each table must have. */
const REQUIRED = new Map<string, string[]>(TABLE_NAMES.map((t) => [t, ['Timestamp', 'DeviceId', 'DeviceName', 'ReportId', ...(hasActionType(t) ? ['ActionType'] : [])]]));

/**
 * Checks one row: its table, the required columns, then only the columns the row has. A strict
 * object of every column (60+ optional keys a table) runs each key's schema on every row; the ingest
 * hot path validates each event, and a row carries a dozen columns, so this visits only those.
 * Issues are shaped as zod's own (path, code, message; unknown columns as `unrecognized_keys`).
 */
function checkRow(value: unknown, ctx: z.RefinementCtx): void {
  walkRow(value, (issue) => ctx.addIssue(issue));
}

type RowIssue = Parameters<z.RefinementCtx['addIssue']>[0];

/**
 * checkRow's rules, once: with `report`, every issue is reported (zod's refinement); without, the
 * walk stops at the first one and nothing is built (isValidEventRow, the ingest hot path).
 * True when the row has no issue.
 */
function walkRow(value: unknown, report?: (issue: RowIssue) => void): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report?.({ code: 'invalid_type', expected: 'object', input: value, path: [], message: 'Invalid input: expected object' });
    return false;
  }
  const row = value as Record<string, unknown>;
  const columns = typeof row.Table === 'string' ? ROW_COLUMNS.get(row.Table) : undefined;
  if (!columns) {
    report?.({ code: 'custom', path: ['Table'], input: row.Table, message: `Invalid input: Table must be one of ${TABLE_NAMES.join(', ')}` });
    return false;
  }
  let ok = true;
  for (const column of REQUIRED.get(row.Table as string)!) {
    if (row[column] !== undefined) continue;
    if (!report) return false;
    ok = false;
    report({ code: 'invalid_type', expected: 'string', input: undefined, path: [column], message: 'Invalid input: expected string, received undefined' });
  }
  let unknown: string[] | undefined;
  for (const column in row) {
    if (column === 'Table') continue;
    const col = columns.get(column);
    if (!col) {
      if (!report) return false;
      (unknown ??= []).push(column);
      continue;
    }
    const v = row[column];
    if (v === undefined) continue; // optional; a missing required column is reported above
    if (col.fast?.(v)) continue;
    const r = col.schema.safeParse(v);
    if (r.success) continue;
    if (!report) return false;
    ok = false;
    for (const issue of r.error.issues) report({ ...issue, path: [column, ...issue.path] } as RowIssue);
  }
  if (unknown) {
    report!({ code: 'unrecognized_keys', keys: unknown, path: [], input: row, message: `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => `"${k}"`).join(', ')}` });
    return false;
  }
  return ok;
}

/**
 * True when checkRow would report no issue for `value` (the same walk, stopping at the first issue
 * and building none): the ingest hot path asks this of every event first and lets zod run, and
 * word the issue, only for a batch with a row that fails (protocol/messages.ts, decodeFrame).
 */
export function isValidEventRow(value: unknown): boolean {
  return walkRow(value);
}

/** One row of any table, validated against its table's columns (see checkRow); the row is returned as given. */
export const EventSchema = z.unknown().superRefine(checkRow) as unknown as z.ZodType<SensorEvent>;

/** Column names allowed in `table` (common columns included). */
export function columnsOf(table: TableName): string[] {
  return ['Table', ...Object.keys(COMMON_COLUMNS), ...TABLE_COLUMN_NAMES[table]];
}

/** The zod schema of one column, for checking values written in scenario files. */
export function columnSchema(table: TableName, column: string): z.ZodType | undefined {
  const cols = TABLE_COLUMNS[table] as Record<string, z.ZodType>;
  return cols[column] ?? (COMMON_COLUMNS as Record<string, z.ZodType>)[column];
}

/** Whether rows of `table` carry an `ActionType` (the event tables do, the state tables do not). */
export function hasActionType(table: TableName): boolean {
  return (TABLE_COLUMN_NAMES[table] as readonly string[]).includes('ActionType');
}
