import { columnsOf, type TableName } from '../../protocol/index.ts';

/**
 * Which event table a Sigma `logsource` reads. `category` wins; `service` is the fallback
 * for log sources without a standard category (sshd/auth logons, SQL audit).
 */
export const LOGSOURCE_TABLES: { category: Record<string, TableName>; service: Record<string, TableName> } = {
  category: {
    process_creation: 'DeviceProcessEvents',
    network_connection: 'DeviceNetworkEvents',
    file_event: 'DeviceFileEvents',
    file_change: 'DeviceFileEvents',
    authentication: 'DeviceLogonEvents',
    registry_add: 'DeviceRegistryEvents',
    registry_set: 'DeviceRegistryEvents',
    registry_delete: 'DeviceRegistryEvents',
    registry_rename: 'DeviceRegistryEvents',
    registry_event: 'DeviceRegistryEvents',
    image_load: 'DeviceImageLoadEvents',
    database: 'SqlEvents',
  },
  service: {
    sshd: 'DeviceLogonEvents',
    auth: 'DeviceLogonEvents',
    security: 'DeviceLogonEvents',
    mssql: 'SqlEvents',
    sqlserver: 'SqlEvents',
  },
};

/** Sigma field names (Sysmon / Windows taxonomy) -> arcsim event columns, per table. */
export const SIGMA_FIELDS: Record<TableName, Record<string, string>> = {
  DeviceProcessEvents: {
    Image: 'FolderPath', CommandLine: 'ProcessCommandLine', ParentImage: 'InitiatingProcessFolderPath',
    ParentCommandLine: 'InitiatingProcessCommandLine', User: 'AccountName', Hashes: 'SHA256',
    ProcessId: 'ProcessId', ParentProcessId: 'InitiatingProcessId', OriginalFileName: 'FileName',
    Computer: 'DeviceName', ComputerName: 'DeviceName',
  },
  DeviceNetworkEvents: {
    Image: 'InitiatingProcessFolderPath', DestinationIp: 'RemoteIP', DestinationPort: 'RemotePort',
    DestinationHostname: 'RemoteUrl', SourceIp: 'LocalIP', SourcePort: 'LocalPort', Protocol: 'Protocol',
    User: 'InitiatingProcessAccountName', Computer: 'DeviceName', ComputerName: 'DeviceName',
  },
  DeviceLogonEvents: {
    User: 'AccountName', TargetUserName: 'AccountName', SourceIp: 'RemoteIP', IpAddress: 'RemoteIP',
    SourcePort: 'RemotePort', LogonType: 'LogonType', WorkstationName: 'RemoteDeviceName',
    Computer: 'DeviceName', ComputerName: 'DeviceName',
  },
  DeviceFileEvents: {
    TargetFilename: 'FolderPath', Image: 'InitiatingProcessFolderPath', User: 'InitiatingProcessAccountName',
    Hashes: 'SHA256', Computer: 'DeviceName', ComputerName: 'DeviceName',
  },
  // Minimal until the field mapping moves to data (issue 13, item 2): columns by their MDE names.
  DeviceRegistryEvents: { Image: 'InitiatingProcessFolderPath', Computer: 'DeviceName', ComputerName: 'DeviceName' },
  DeviceImageLoadEvents: {
    ImageLoaded: 'FolderPath', Image: 'InitiatingProcessFolderPath', Computer: 'DeviceName', ComputerName: 'DeviceName',
  },
  DeviceEvents: { Computer: 'DeviceName', ComputerName: 'DeviceName' },
  DeviceInfo: { Computer: 'DeviceName', ComputerName: 'DeviceName' },
  DeviceNetworkInfo: { Computer: 'DeviceName', ComputerName: 'DeviceName' },
  SqlEvents: {
    User: 'ServerPrincipalName', SourceIp: 'ClientIP', ClientIp: 'ClientIP', Query: 'Statement',
    Database: 'DatabaseName', Application: 'ApplicationName',
  },
};

/** The column a rule field reads in `table`, or undefined when the table has no such field. */
export function resolveField(table: TableName, field: string): string | undefined {
  const mapped = SIGMA_FIELDS[table][field];
  if (mapped) return mapped;
  return columnsOf(table).includes(field) ? field : undefined;
}
