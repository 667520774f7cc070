import { isExtensionName, EXTENSIONS, sqlInstanceResourceId, parseResourceId, type SqlInstanceFacts } from '../../protocol/index.ts';
import type { MachineRow } from '../store/index.ts';

/** Arc SQL `hostType` by cloud; on-prem it depends on whether the hardware looks virtual. */
const ARC_SQL_HOST_TYPE: Record<string, string> = { AWS: 'AWS Virtual Machine', GCP: 'GCP Virtual Machine', Azure: 'Virtual Machine' };
const VIRTUAL_HW = /vmware|virtualbox|kvm|qemu|xen|virtual machine|hyper-v|bochs|parallels|openstack/i;

export function sqlHostType(row: MachineRow): string {
  const f = row.facts;
  const byCloud = ARC_SQL_HOST_TYPE[f.cloudMetadata.provider];
  if (byCloud) return byCloud;
  const hw = `${f.detectedProperties.manufacturer ?? ''} ${f.detectedProperties.model ?? ''}`.trim();
  if (!hw || /container/i.test(hw)) return 'Other';
  return VIRTUAL_HW.test(hw) ? 'Virtual Machine' : 'Physical Server';
}

/** Defender for SQL protects an instance when its machine has the Defender for SQL extension. */
function defenderStatus(row: MachineRow): string {
  return row.extensions.some((e) => e.name === 'AdvancedThreatProtection.Windows' && e.status === 'Succeeded') ? 'Protected' : 'Unprotected';
}

/** One SQL instance as `Microsoft.AzureArcData/sqlServerInstances` GET returns it. */
export function toArcSqlInstance(row: MachineRow, s: SqlInstanceFacts, location: string) {
  const ids = parseResourceId(row.resourceId);
  const name = `${row.name}_${s.instanceName}`;
  return {
    id: ids ? sqlInstanceResourceId(ids.subscription, ids.resourceGroup, name) : undefined,
    name,
    type: 'Microsoft.AzureArcData/sqlServerInstances',
    location,
    properties: {
      containerResourceId: row.resourceId,
      instanceName: s.instanceName,
      version: s.version ?? 'Unknown',
      edition: s.edition,
      tcpStaticPorts: s.tcpStaticPorts,
      tcpDynamicPorts: s.tcpDynamicPorts,
      hostType: sqlHostType(row),
      status: row.status === 'Connected' ? 'Connected' : 'Disconnected',
      azureDefenderStatus: defenderStatus(row),
      provisioningState: 'Succeeded',
      createTime: new Date(row.registeredAt).toISOString(),
    },
    arcsim: { engine: s.engine, discoveredBy: s.discoveredBy },
  };
}

/** The machine as `Microsoft.HybridCompute/machines` GET returns it (plus arcsim's agent id). */
export function toArcMachine(row: MachineRow, location: string, extra: { identityConflicts?: number } = {}) {
  const f = row.facts;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: row.resourceId,
    name: row.name,
    type: 'Microsoft.HybridCompute/machines',
    location,
    properties: {
      provisioningState: 'Succeeded',
      status: row.status,
      lastStatusChange: iso(row.lastStatusChange),
      agentVersion: f.agentVersion,
      displayName: f.hostname,
      machineFqdn: f.machineFqdn,
      dnsFqdn: f.machineFqdn,
      domainName: f.domainName,
      osName: f.osName,
      osType: f.osType,
      osVersion: f.osVersion,
      osSku: f.osSku,
      osEdition: f.osEdition,
      vmUuid: f.vmUuid,
      detectedProperties: f.detectedProperties,
      cloudMetadata: { provider: f.cloudMetadata.provider },
      mssqlDiscovered: String(row.sqlInstances.some((s) => s.engine === 'sqlserver')),
      extensions: row.extensions.map((e) => ({
        name: e.name, type: e.name, publisher: e.publisher ?? (isExtensionName(e.name) ? EXTENSIONS[e.name].publisher : undefined), status: e.status,
      })),
      networkProfile: f.networkInterfaces ? { networkInterfaces: f.networkInterfaces } : undefined,
    },
    arcsim: {
      agentId: row.agentId,
      lastHeartbeat: iso(row.lastHeartbeat),
      registeredAt: iso(row.registeredAt),
      persona: f.persona,
      cloudDetails: f.cloudMetadata.details,
      cloneSuspected: (extra.identityConflicts ?? 0) > 0,
      identityConflicts: extra.identityConflicts ?? 0,
      notCollected: row.notCollected ?? {},
      droppedEvents: row.droppedEvents ?? 0,
      sqlInstances: row.sqlInstances.map((s) => toArcSqlInstance(row, s, location)),
    },
  };
}
