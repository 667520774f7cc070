import { alertResourceId } from '../../protocol/index.ts';
import type { AlertCopyRow, AlertRow, AlertSourceRow } from '../store/index.ts';

/** productName per product view, as the real products label their alerts. */
const VIEW_PRODUCT_NAMES: Record<string, string> = {
  MDE: 'Microsoft Defender Advanced Threat Protection',
  M365D: 'Microsoft Defender XDR',
  MDC: 'Microsoft Defender for Cloud',
  Sentinel: 'Azure Sentinel',
};
const DETECTOR_PRODUCT_NAMES: Record<string, string> = {
  MDE: VIEW_PRODUCT_NAMES.MDE!,
  MDC: 'Microsoft Defender for Cloud',
  DefenderForSQL: 'Microsoft Defender for Cloud',
  CSPM: 'Microsoft Defender for Cloud',
};

export interface AlertExtras {
  detonationIds?: string[];
  copies?: AlertCopyRow[];
  incidentId?: string;
  /** Render the alert as this product's copy (its own id and status). */
  view?: AlertCopyRow;
  /** Every resource id of the alert's asset (Arc machine and cloud resources); default: the alert's own. */
  resourceIds?: string[];
  assetId?: string;
  /** The paths the detection reached the control plane by. */
  detectionSources?: AlertSourceRow[];
}

/**
 * MDC's productComponentName: Defender for Containers' alerts (alert types K8S_… for the cluster's
 * control plane, K8S.NODE_… for its nodes, as Microsoft's alert reference names them) are
 * `Containers`; Defender for SQL's `SqlServers`; the rest `Servers`.
 */
function componentOf(alertType: string, detectingProduct: string | undefined): string {
  if (alertType.startsWith('K8S_') || alertType.startsWith('K8S.NODE_')) return 'Containers';
  return detectingProduct === 'DefenderForSQL' ? 'SqlServers' : 'Servers';
}

/**
 * The alert as the MDC REST API (2022-01-01) returns it: `{id, name, type, properties}`, plus an
 * `arcsim` block (product copies, incident, detonations, latency). `baseUrl` is the control
 * plane's own address, so `alertUri` and the portal links resolve.
 */
export function toMdcAlert(row: AlertRow, baseUrl: string, extras: AlertExtras = {}): Record<string, unknown> {
  const p = row.properties as Record<string, any>;
  const loc = p.location as { subscription: string; resourceGroup: string; location: string };
  const iso = (ms: number) => new Date(ms).toISOString();
  const view = extras.view;
  const id = view?.copyId ?? row.systemAlertId;
  const alertUri = `${baseUrl}/api/alerts/${id}`;
  const links: Array<Record<string, string>> = [
    { Category: 'Alert', Label: 'Alert page (M365D view)', Href: `${baseUrl}/portal/alerts/${id}`, Type: 'webLink' },
  ];
  if (extras.incidentId) links.push({ Category: 'Incident', Label: 'Incident page (M365D view)', Href: `${baseUrl}/portal/incidents/${extras.incidentId}`, Type: 'webLink' });
  if (view && view.copyId !== row.systemAlertId) links.push({ Category: 'Source', Label: 'Source alert', Href: `${baseUrl}/api/alerts/${row.systemAlertId}`, Type: 'webLink' });
  return {
    id: alertResourceId(loc.subscription, loc.resourceGroup, loc.location, id),
    name: id,
    type: 'Microsoft.Security/Locations/alerts',
    properties: {
      version: '2022-01-01.0',
      alertType: row.alertType,
      systemAlertId: id,
      productComponentName: componentOf(row.alertType, p.detectingProduct),
      alertDisplayName: p.alertDisplayName,
      description: p.description,
      severity: row.severity,
      intent: p.intent,
      startTimeUtc: iso(row.startTime),
      endTimeUtc: iso(row.endTime),
      resourceIdentifiers: (extras.resourceIds?.length ? extras.resourceIds : [row.resourceId]).map((id) => ({ type: 'AzureResource', azureResourceId: id })),
      remediationSteps: p.remediationSteps ?? [],
      vendorName: 'Microsoft',
      status: view?.status ?? row.status,
      extendedLinks: links,
      alertUri,
      timeGeneratedUtc: iso(row.timeGenerated),
      productName: view ? VIEW_PRODUCT_NAMES[view.product] : DETECTOR_PRODUCT_NAMES[p.detectingProduct] ?? 'Microsoft Defender for Cloud',
      processingEndTimeUtc: iso(row.updatedAt),
      entities: p.entities ?? [],
      isIncident: false,
      correlationKey: row.dedupKey,
      extendedProperties: {
        count: String(row.count),
        detectingProduct: p.detectingProduct,
        ...(p.detectionSource ? { detectionSource: p.detectionSource } : {}),
        ruleId: row.ruleId,
        ruleTitle: p.ruleTitle,
        ...(view && view.copyId !== row.systemAlertId ? { sourceSystemAlertId: row.systemAlertId } : {}),
        ...(extras.detonationIds?.length ? { detonationIds: extras.detonationIds.join(',') } : {}),
        ...(extras.detectionSources?.length ? { detectionSources: [...new Set(extras.detectionSources.map((d) => d.kind))].join(',') } : {}),
      },
      compromisedEntity: p.compromisedEntity,
      techniques: p.techniques ?? [],
      subTechniques: p.subTechniques ?? [],
    },
    arcsim: {
      sourceSystemAlertId: row.systemAlertId,
      view: view?.product,
      copies: extras.copies?.map((c) => ({ product: c.product, id: c.copyId, status: c.status, updated: iso(c.updatedAt) })),
      incidentId: extras.incidentId,
      detonationIds: extras.detonationIds,
      latencyMs: row.latencyMs,
      assetId: extras.assetId,
      detectionSources: extras.detectionSources?.map((d) => ({
        kind: d.kind, resourceId: d.resourceId, ...(d.kind === 'agent' ? { product: d.detail } : { connector: d.detail }),
        count: d.count, firstTime: iso(d.firstTime), lastTime: iso(d.lastTime),
      })),
    },
  };
}
