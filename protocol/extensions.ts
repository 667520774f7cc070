import type { TableName } from './events.ts';

/** A simulated sensor: which event tables it collects. */
export type Sensor = 'endpoint' | 'sql';

/**
 * Arc machine extensions arcsim knows, with their real publishers. Installing one enables the
 * matching simulated sensor on the agent; without it, that sensor's events are not collected.
 */
export const EXTENSIONS = {
  'MDE.Linux': { publisher: 'Microsoft.Azure.AzureDefenderForServers', sensor: 'endpoint' },
  'MDE.Windows': { publisher: 'Microsoft.Azure.AzureDefenderForServers', sensor: 'endpoint' },
  'WindowsAgent.SqlServer': { publisher: 'Microsoft.AzureData', sensor: 'sql' },
  'AdvancedThreatProtection.Windows': { publisher: 'Microsoft.Azure.AzureDefenderForSQL', sensor: 'sql' },
} as const satisfies Record<string, { publisher: string; sensor: Sensor }>;

export type ExtensionName = keyof typeof EXTENSIONS;

export function isExtensionName(name: string): name is ExtensionName {
  return Object.hasOwn(EXTENSIONS, name);
}

/** The sensor that collects each table: MDE for the Device* tables, the SQL extensions for SqlEvents. */
export const TABLE_SENSOR: Record<TableName, Sensor> = {
  DeviceProcessEvents: 'endpoint',
  DeviceNetworkEvents: 'endpoint',
  DeviceLogonEvents: 'endpoint',
  DeviceFileEvents: 'endpoint',
  DeviceRegistryEvents: 'endpoint',
  DeviceImageLoadEvents: 'endpoint',
  DeviceEvents: 'endpoint',
  DeviceInfo: 'endpoint',
  DeviceNetworkInfo: 'endpoint',
  DeviceFileCertificateInfo: 'endpoint',
  DeviceTvmSoftwareInventory: 'endpoint',
  SqlEvents: 'sql',
};

/** The MDE extension for an OS type (`windows` -> MDE.Windows, anything else -> MDE.Linux). */
export function mdeExtensionFor(osType: string | undefined): ExtensionName {
  return osType === 'windows' ? 'MDE.Windows' : 'MDE.Linux';
}
