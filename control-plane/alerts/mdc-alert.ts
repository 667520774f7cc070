import { alertResourceId } from '../../protocol/index.ts';
import type { AlertRow } from '../store/index.ts';

const PRODUCT_NAMES: Record<string, string> = {
  MDE: 'Microsoft Defender Advanced Threat Protection',
  MDC: 'Microsoft Defender for Cloud',
  DefenderForSQL: 'Microsoft Defender for Cloud',
  CSPM: 'Microsoft Defender for Cloud',
};

/**
 * The alert as the MDC REST API (2022-01-01) returns it: `{id, name, type, properties}`.
 * `baseUrl` is the control plane's own address, so `alertUri` resolves through its API.
 */
export function toMdcAlert(row: AlertRow, baseUrl: string, detonationIds: string[] = []): Record<string, unknown> {
  const p = row.properties as Record<string, any>;
  const loc = p.location as { subscription: string; resourceGroup: string; location: string };
  const iso = (ms: number) => new Date(ms).toISOString();
  const alertUri = `${baseUrl}/api/alerts/${row.systemAlertId}`;
  return {
    id: alertResourceId(loc.subscription, loc.resourceGroup, loc.location, row.systemAlertId),
    name: row.systemAlertId,
    type: 'Microsoft.Security/Locations/alerts',
    properties: {
      version: '2022-01-01.0',
      alertType: row.alertType,
      systemAlertId: row.systemAlertId,
      productComponentName: p.detectingProduct === 'DefenderForSQL' ? 'SqlServers' : 'Servers',
      alertDisplayName: p.alertDisplayName,
      description: p.description,
      severity: row.severity,
      intent: p.intent,
      startTimeUtc: iso(row.startTime),
      endTimeUtc: iso(row.endTime),
      resourceIdentifiers: [{ type: 'AzureResource', azureResourceId: row.resourceId }],
      remediationSteps: p.remediationSteps ?? [],
      vendorName: 'Microsoft',
      status: row.status,
      extendedLinks: [{ Category: 'Alert', Label: 'Alert details', Href: alertUri, Type: 'webLink' }],
      alertUri,
      timeGeneratedUtc: iso(row.timeGenerated),
      productName: PRODUCT_NAMES[p.detectingProduct] ?? 'Microsoft Defender for Cloud',
      processingEndTimeUtc: iso(row.updatedAt),
      entities: p.entities ?? [],
      isIncident: false,
      correlationKey: row.dedupKey,
      extendedProperties: {
        count: String(row.count),
        detectingProduct: p.detectingProduct,
        ruleId: row.ruleId,
        ruleTitle: p.ruleTitle,
        ...(detonationIds.length ? { detonationIds: detonationIds.join(',') } : {}),
      },
      compromisedEntity: p.compromisedEntity,
      techniques: p.techniques ?? [],
      subTechniques: p.subTechniques ?? [],
    },
  };
}
