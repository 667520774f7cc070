import { sqlInstanceResourceId, parseResourceId } from '../../protocol/index.ts';
import type { MachineRow } from '../store/index.ts';

const ARC_SQL_HOST_TYPE: Record<string, string> = { AWS: 'AWS Virtual Machine', GCP: 'GCP Virtual Machine', Azure: 'Virtual Machine' };

/** The machine as `Microsoft.HybridCompute/machines` GET returns it (plus arcsim's agent id). */
export function toArcMachine(row: MachineRow, location: string): Record<string, unknown> {
  const f = row.facts;
  const iso = (ms: number) => new Date(ms).toISOString();
  const ids = parseResourceId(row.resourceId);
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
      extensions: row.extensions.map((e) => ({ name: e.name, type: e.name, publisher: e.publisher, status: e.status })),
      networkProfile: f.networkInterfaces ? { networkInterfaces: f.networkInterfaces } : undefined,
    },
    arcsim: {
      agentId: row.agentId,
      lastHeartbeat: iso(row.lastHeartbeat),
      registeredAt: iso(row.registeredAt),
      persona: f.persona,
      cloudDetails: f.cloudMetadata.details,
      sqlInstances: row.sqlInstances.map((s) => ({
        id: ids ? sqlInstanceResourceId(ids.subscription, ids.resourceGroup, `${row.name}_${s.instanceName}`) : undefined,
        properties: {
          containerResourceId: row.resourceId,
          instanceName: s.instanceName,
          version: s.version ?? 'Unknown',
          edition: s.edition,
          tcpStaticPorts: s.tcpStaticPorts,
          hostType: ARC_SQL_HOST_TYPE[f.cloudMetadata.provider] ?? 'Other',
          status: row.status === 'Connected' ? 'Connected' : 'Disconnected',
        },
      })),
    },
  };
}
