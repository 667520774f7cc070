import type { TableName } from './events.ts';

/** A simulated sensor: which event tables it collects. */
export type Sensor = 'endpoint' | 'sql' | 'kubernetes';

/**
 * Arc machine extensions arcsim knows, with their real publishers. Installing one enables the
 * matching simulated sensor on the agent; without it, that sensor's events are not collected.
 */
export const EXTENSIONS = {
  'MDE.Linux': { publisher: 'Microsoft.Azure.AzureDefenderForServers', sensor: 'endpoint' },
  'MDE.Windows': { publisher: 'Microsoft.Azure.AzureDefenderForServers', sensor: 'endpoint' },
  'WindowsAgent.SqlServer': { publisher: 'Microsoft.AzureData', sensor: 'sql' },
  'AdvancedThreatProtection.Windows': { publisher: 'Microsoft.Azure.AzureDefenderForSQL', sensor: 'sql' },
  // The Defender for Containers extension of an Arc-enabled Kubernetes cluster (extension type
  // microsoft.azuredefender.kubernetes): it collects the cluster's audit events (docs/kubernetes.md).
  // Cluster extensions have a type, not a publisher: this publisher is arcsim's own label.
  'microsoft.azuredefender.kubernetes': { publisher: 'Microsoft.AzureDefender.Kubernetes', sensor: 'kubernetes' },
} as const satisfies Record<string, { publisher: string; sensor: Sensor }>;

export type ExtensionName = keyof typeof EXTENSIONS;

export function isExtensionName(name: string): name is ExtensionName {
  return Object.hasOwn(EXTENSIONS, name);
}

/** The sensor that collects each table: MDE for the Device* tables, the SQL extensions for SqlEvents, Defender for Containers for KubernetesAudit. */
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
  SqlEvents: 'sql',
  KubernetesAudit: 'kubernetes',
};

/** The MDE extension for an OS type (`windows` -> MDE.Windows, anything else -> MDE.Linux). */
export function mdeExtensionFor(osType: string | undefined): ExtensionName {
  return osType === 'windows' ? 'MDE.Windows' : 'MDE.Linux';
}
