import { z } from 'zod';

/**
 * Synthetic sensor events. Columns follow the MDE advanced-hunting tables (plus a SQL audit
 * table) so hunting queries and Sigma field mappings read naturally. Every event names its
 * table in `Table`; unknown columns are refused.
 */
const str = z.string().max(32_768);
const port = z.number().int().min(0).max(65_535);

/** Columns every table has. `ReportId` is the event's UUIDv7, the key redelivery dedups on. */
export const COMMON_COLUMNS = {
  Timestamp: z.iso.datetime({ offset: true }),
  DeviceId: z.string().min(1).max(128),
  DeviceName: z.string().min(1).max(255),
  ActionType: z.string().min(1).max(128),
  ReportId: z.uuid({ version: 'v7' }),
  DetonationId: z.string().min(1).max(128).optional(),
};

export const TABLE_COLUMNS = {
  DeviceProcessEvents: {
    FileName: str, FolderPath: str, SHA256: str, ProcessId: z.number().int().nonnegative(),
    ProcessCommandLine: str, AccountDomain: str, AccountName: str,
    InitiatingProcessFileName: str, InitiatingProcessFolderPath: str, InitiatingProcessCommandLine: str,
    InitiatingProcessId: z.number().int().nonnegative(), InitiatingProcessParentFileName: str,
    InitiatingProcessAccountName: str, InitiatingProcessParentId: z.number().int().nonnegative(),
  },
  DeviceNetworkEvents: {
    LocalIP: str, LocalPort: port, RemoteIP: str, RemotePort: port, RemoteUrl: str, Protocol: str,
    InitiatingProcessFileName: str, InitiatingProcessFolderPath: str, InitiatingProcessCommandLine: str,
    InitiatingProcessId: z.number().int().nonnegative(), InitiatingProcessAccountName: str,
    // Real MDE columns, so a connection can be tied to the process that started its process.
    InitiatingProcessParentFileName: str, InitiatingProcessParentId: z.number().int().nonnegative(),
  },
  DeviceLogonEvents: {
    LogonType: str, AccountDomain: str, AccountName: str, RemoteIP: str, RemotePort: port,
    RemoteDeviceName: str, IsLocalAdmin: z.boolean(), FailureReason: str, Protocol: str,
    InitiatingProcessFileName: str,
  },
  DeviceFileEvents: {
    FileName: str, FolderPath: str, SHA256: str, InitiatingProcessFileName: str,
    InitiatingProcessFolderPath: str, InitiatingProcessCommandLine: str, InitiatingProcessAccountName: str,
  },
  SqlEvents: {
    InstanceName: str, DatabaseName: str, ServerPrincipalName: str, ClientIP: str, ApplicationName: str,
    Succeeded: z.boolean(), Statement: str, ErrorNumber: z.number().int(),
  },
} as const;

export type TableName = keyof typeof TABLE_COLUMNS;
export const TABLE_NAMES = Object.keys(TABLE_COLUMNS) as TableName[];

function tableSchema<T extends TableName>(table: T) {
  const columns = z.object(TABLE_COLUMNS[table]).partial().shape;
  return z.strictObject({ Table: z.literal(table), ...COMMON_COLUMNS, ...columns });
}

export const EventSchema = z.discriminatedUnion('Table', [
  tableSchema('DeviceProcessEvents'),
  tableSchema('DeviceNetworkEvents'),
  tableSchema('DeviceLogonEvents'),
  tableSchema('DeviceFileEvents'),
  tableSchema('SqlEvents'),
]);

/** One event, as it travels and as rules see it. */
export type SensorEvent = z.infer<typeof EventSchema>;

/** Column names allowed in `table` (common columns included). */
export function columnsOf(table: TableName): string[] {
  return ['Table', ...Object.keys(COMMON_COLUMNS), ...Object.keys(TABLE_COLUMNS[table])];
}

/** The zod schema of one column, for checking values written in scenario files. */
export function columnSchema(table: TableName, column: string): z.ZodType | undefined {
  const cols = TABLE_COLUMNS[table] as Record<string, z.ZodType>;
  return cols[column] ?? (COMMON_COLUMNS as Record<string, z.ZodType>)[column];
}
