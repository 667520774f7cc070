import type { AlertStatus } from '../store/index.ts';
import { iso, propsOf, tacticsOf, type ExportAlert, type ExportContext, type ExportIncident } from './export-model.ts';

/*
 * Microsoft Sentinel (Log Analytics) rows: the `SecurityAlert` and `SecurityIncident` tables, with
 * the column names and types of Azure Monitor's table reference. Dynamic-looking columns that the
 * reference types as `string` (Entities, ExtendedProperties, ExtendedLinks, RemediationSteps,
 * Techniques, AlertIds, ...) hold JSON text, as they do in a real workspace.
 */

/** SecurityAlert.Status: New, InProgress, Resolved, Dismissed (Active is `New` in Sentinel). */
const ALERT_STATUS: Record<AlertStatus, string> = { Active: 'New', InProgress: 'InProgress', Resolved: 'Resolved', Dismissed: 'Dismissed' };
/** SecurityIncident.Status: New, Active, Closed. */
const INCIDENT_STATUS: Record<AlertStatus, 'New' | 'Active' | 'Closed'> = { Active: 'New', InProgress: 'Active', Resolved: 'Closed', Dismissed: 'Closed' };

/**
 * SecurityIncident.Classification (Undetermined, TruePositive, BenignPositive, FalsePositive) from
 * the XDR incident's Graph classification, as the XDR connector carries the closing reason; set
 * only on a closed incident, as in Sentinel.
 */
const CLASSIFICATION: Record<string, string> = {
  unknown: 'Undetermined', truePositive: 'TruePositive', informationalExpectedActivity: 'BenignPositive', falsePositive: 'FalsePositive',
};
/** SecurityIncident.ClassificationReason per Sentinel classification (the FalsePositive reason by determination). */
function classificationReason(classification: string, determination: string | undefined): string {
  if (classification === 'TruePositive') return 'SuspiciousActivity';
  if (classification === 'BenignPositive') return 'SuspiciousButExpected';
  if (classification === 'FalsePositive') return determination === 'notEnoughDataToValidate' ? 'InaccurateData' : 'IncorrectAlertLogic';
  return '';
}

const PRODUCT_NAMES: Record<string, string> = {
  MDE: 'Microsoft Defender Advanced Threat Protection',
  MDC: 'Azure Security Center',
  DefenderForSQL: 'Azure Security Center',
  CSPM: 'Azure Security Center',
};

/** One `SecurityAlert` row. */
export function toSentinelAlert(a: ExportAlert, ctx: ExportContext): Record<string, unknown> {
  const { row } = a;
  const p = propsOf(row);
  const loc = p.location ?? { subscription: '', resourceGroup: '', location: '' };
  const view = a.copies.find((c) => c.product === 'Sentinel');
  const mde = p.detectingProduct === 'MDE';
  return {
    TenantId: ctx.tenantId,
    TimeGenerated: iso(row.timeGenerated),
    DisplayName: p.alertDisplayName ?? row.alertType,
    AlertName: p.alertDisplayName ?? row.alertType,
    AlertSeverity: row.severity,
    Description: p.description ?? '',
    ProviderName: mde ? 'MDATP' : 'Azure Security Center',
    VendorName: 'Microsoft',
    VendorOriginalId: row.systemAlertId,
    SystemAlertId: view?.copyId ?? row.systemAlertId,
    ResourceId: row.resourceId,
    SourceComputerId: row.agentId,
    AlertType: row.alertType,
    ConfidenceLevel: 'Unknown',
    ConfidenceScore: null,
    IsIncident: false,
    StartTime: iso(row.startTime),
    EndTime: iso(row.endTime),
    ProcessingEndTime: iso(row.updatedAt),
    RemediationSteps: JSON.stringify(p.remediationSteps ?? []),
    ExtendedProperties: JSON.stringify({
      'Alert Count': String(row.count), ruleId: row.ruleId, ...(a.detonationIds.length ? { detonationIds: a.detonationIds.join(',') } : {}),
      ...(a.incidentId ? { IncidentId: a.incidentId } : {}),
    }),
    Entities: JSON.stringify(p.entities ?? []),
    SourceSystem: 'Detection',
    WorkspaceSubscriptionId: loc.subscription,
    WorkspaceResourceGroup: loc.resourceGroup,
    ExtendedLinks: JSON.stringify([{ Href: `${ctx.baseUrl}/portal/alerts/${row.systemAlertId}`, Category: 'Alert', Label: 'Alert page', Type: 'webLink' }]),
    ProductName: PRODUCT_NAMES[p.detectingProduct ?? 'MDC'] ?? 'Azure Security Center',
    ProductComponentName: p.detectingProduct === 'DefenderForSQL' ? 'SqlServers' : 'Servers',
    AlertLink: `${ctx.baseUrl}/portal/alerts/${row.systemAlertId}`,
    Status: ALERT_STATUS[view?.status ?? row.status],
    CompromisedEntity: p.compromisedEntity ?? '',
    Tactics: tacticsOf(row).join(', '),
    Techniques: JSON.stringify(p.techniques ?? []),
    SubTechniques: JSON.stringify(p.subTechniques ?? []),
    Type: 'SecurityAlert',
  };
}

/** One `SecurityIncident` row; `incidentNumber` is the workspace's running number (creation order). */
export function toSentinelIncident(i: ExportIncident, ctx: ExportContext, incidentNumber: number): Record<string, unknown> {
  const r = i.row;
  const status = INCIDENT_STATUS[r.redirectedTo ? 'Resolved' : r.sentinelStatus ?? r.status];
  const classification = status === 'Closed' ? CLASSIFICATION[r.classification ?? 'unknown'] ?? 'Undetermined' : '';
  return {
    TenantId: ctx.tenantId,
    TimeGenerated: iso(r.updatedAt),
    IncidentName: r.incidentId,
    Title: r.title,
    Description: '',
    Severity: r.severity,
    Status: status,
    Classification: classification,
    ClassificationComment: r.redirectedTo ? `Merged into incident ${r.redirectedTo}` : '',
    ClassificationReason: classificationReason(classification, r.determination),
    Owner: JSON.stringify({ objectId: null, email: null, assignedTo: r.assignedTo ?? null, userPrincipalName: null }),
    ProviderName: 'Microsoft XDR',
    ProviderIncidentId: r.incidentId,
    FirstActivityTime: iso(r.firstActivity),
    LastActivityTime: iso(r.lastActivity),
    FirstModifiedTime: iso(r.createdAt),
    LastModifiedTime: iso(r.updatedAt),
    CreatedTime: iso(r.createdAt),
    ClosedTime: status === 'Closed' ? iso(r.updatedAt) : null,
    IncidentNumber: incidentNumber,
    RelatedAnalyticRuleIds: JSON.stringify([...new Set(i.alerts.map((a) => a.row.ruleId))]),
    AlertIds: JSON.stringify(i.alerts.map((a) => a.row.systemAlertId)),
    BookmarkIds: '[]',
    Comments: '[]',
    Labels: JSON.stringify(r.redirectedTo ? [{ labelName: 'Redirected', labelType: 'System' }] : []),
    IncidentUrl: `${ctx.baseUrl}/portal/incidents/${r.incidentId}`,
    AdditionalData: JSON.stringify({ alertsCount: i.alerts.length, bookmarksCount: 0, commentsCount: 0, alertProductNames: [...new Set(i.alerts.map((a) => PRODUCT_NAMES[String(a.row.properties.detectingProduct)] ?? 'Azure Security Center'))], tactics: [...new Set(i.alerts.flatMap((a) => tacticsOf(a.row)))] }),
    ModifiedBy: 'arcsim',
    SourceSystem: 'Azure',
    Type: 'SecurityIncident',
  };
}
