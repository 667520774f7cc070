import type { AlertStatus } from '../store/index.ts';
import { iso, propsOf, tacticsOf, techniquesOf, type ExportAlert, type ExportContext, type ExportIncident } from './export-model.ts';

/*
 * Microsoft Graph security API (v1.0): `microsoft.graph.security.alert` (alerts_v2) and
 * `microsoft.graph.security.incident`, as Defender XDR (M365D) serves them. Property names and
 * enum members follow Microsoft's Graph reference (security-alert, security-incident,
 * security-alertevidence and its derived types); the status shown is the M365D copy's, since the
 * Graph API is the XDR view of an alert.
 */

const ODATA_ALERT = '#microsoft.graph.security.alert';
const ODATA_INCIDENT = '#microsoft.graph.security.incident';

/** MDC alert status -> Graph `alertStatus` (new, inProgress, resolved). Dismissed is resolved in XDR. */
export const GRAPH_ALERT_STATUS: Record<AlertStatus, 'new' | 'inProgress' | 'resolved'> = {
  Active: 'new', InProgress: 'inProgress', Resolved: 'resolved', Dismissed: 'resolved',
};
/** Incident status -> Graph `incidentStatus` (active, resolved, inProgress, redirected, ...). */
const GRAPH_INCIDENT_STATUS: Record<AlertStatus, 'active' | 'inProgress' | 'resolved'> = {
  Active: 'active', InProgress: 'inProgress', Resolved: 'resolved', Dismissed: 'resolved',
};

/** The detecting product -> Graph `serviceSource` and `detectionSource`. */
const SOURCES: Record<string, { serviceSource: string; detectionSource: string; productName: string }> = {
  MDE: { serviceSource: 'microsoftDefenderForEndpoint', detectionSource: 'microsoftDefenderForEndpoint', productName: 'Microsoft Defender for Endpoint' },
  MDC: { serviceSource: 'microsoftDefenderForCloud', detectionSource: 'microsoftDefenderForServers', productName: 'Microsoft Defender for Cloud' },
  DefenderForSQL: { serviceSource: 'microsoftDefenderForCloud', detectionSource: 'microsoftDefenderForDatabases', productName: 'Microsoft Defender for Cloud' },
  CSPM: { serviceSource: 'microsoftDefenderForCloud', detectionSource: 'microsoftDefenderForCloud', productName: 'Microsoft Defender for Cloud' },
};
/** Rule-level detection sources (rule-loader: alerts from plain Sigma rules are custom detections). */
const DETECTION_SOURCE_NAMES: Record<string, string> = { CustomDetection: 'customDetection' };

/** The alert's id in Graph: its M365D copy's id (`da…` / `dc…`), else the detection's own. */
export function graphAlertId(a: ExportAlert): string {
  return a.copies.find((c) => c.product === 'M365D')?.copyId ?? a.row.systemAlertId;
}

/** The alert as `GET /v1.0/security/alerts_v2/{id}` returns it. */
export function toGraphAlert(a: ExportAlert, ctx: ExportContext): Record<string, unknown> {
  const { row } = a;
  const p = propsOf(row);
  const id = graphAlertId(a);
  const view = a.copies.find((c) => c.product === 'M365D');
  const status = view?.status ?? row.status;
  const source = SOURCES[p.detectingProduct ?? 'MDC'] ?? SOURCES.MDC!;
  const graphStatus = GRAPH_ALERT_STATUS[status];
  const stored = row.properties as { classification?: string; determination?: string; assignedTo?: string };
  return {
    '@odata.type': ODATA_ALERT,
    id,
    providerAlertId: row.systemAlertId,
    incidentId: a.incidentId ?? null,
    status: graphStatus,
    severity: row.severity.toLowerCase(),
    classification: stored.classification ?? 'unknown',
    determination: stored.determination ?? 'unknown',
    serviceSource: source.serviceSource,
    detectionSource: (p.detectionSource && DETECTION_SOURCE_NAMES[p.detectionSource]) ?? source.detectionSource,
    productName: source.productName,
    detectorId: row.ruleId,
    tenantId: ctx.tenantId,
    title: p.alertDisplayName ?? row.alertType,
    description: p.description ?? '',
    recommendedActions: (p.remediationSteps ?? []).join('\n'),
    category: tacticsOf(row)[0] ?? 'Unknown',
    assignedTo: stored.assignedTo ?? null,
    alertWebUrl: `${ctx.baseUrl}/portal/alerts/${id}`,
    incidentWebUrl: a.incidentId ? `${ctx.baseUrl}/portal/incidents/${a.incidentId}` : null,
    actorDisplayName: null,
    threatDisplayName: null,
    threatFamilyName: null,
    mitreTechniques: techniquesOf(row),
    createdDateTime: iso(row.timeGenerated),
    lastUpdateDateTime: iso(view?.updatedAt ?? row.updatedAt),
    resolvedDateTime: graphStatus === 'resolved' ? iso(view?.updatedAt ?? row.updatedAt) : null,
    firstActivityDateTime: iso(row.startTime),
    lastActivityDateTime: iso(row.endTime),
    comments: [],
    systemTags: [],
    evidence: graphEvidence(a),
    // Graph's dictionary of extra properties: what MDC keeps that alerts_v2 has no field for.
    additionalData: {
      alertType: row.alertType, count: row.count, resourceId: row.resourceId,
      ...(a.detonationIds.length ? { detonationIds: a.detonationIds } : {}),
    },
  };
}

/**
 * The alert's entities as Graph `alertEvidence` items (deviceEvidence, userEvidence, ipEvidence,
 * processEvidence), each with its `@odata.type`, roles, verdict and remediation status.
 */
export function graphEvidence(a: ExportAlert): Array<Record<string, unknown>> {
  const created = iso(a.row.timeGenerated);
  const base = (type: string) => ({
    '@odata.type': `#microsoft.graph.security.${type}`, createdDateTime: created, verdict: 'suspicious', remediationStatus: 'none',
    remediationStatusDetails: null, roles: [] as string[], detailedRoles: [] as string[], tags: [] as string[],
  });
  const out: Array<Record<string, unknown>> = [];
  for (const e of propsOf(a.row).entities ?? []) {
    if (e.type === 'host') {
      out.push({
        ...base('deviceEvidence'), roles: ['compromised'], deviceDnsName: e.hostName ?? null, hostName: e.hostName ?? null,
        azureAdDeviceId: null, mdeDeviceId: a.row.agentId, osPlatform: e.osFamily ?? 'Unknown', healthStatus: 'active',
        onboardingStatus: 'onboarded', riskScore: 'none', rbacGroupName: null, firstSeenDateTime: created,
      });
    } else if (e.type === 'account') {
      out.push({
        ...base('userEvidence'),
        userAccount: { accountName: e.name ?? null, domainName: e.ntDomain ?? null, userSid: null, azureAdUserId: null, userPrincipalName: null, displayName: e.name ?? null },
      });
    } else if (e.type === 'ip') {
      out.push({ ...base('ipEvidence'), ipAddress: e.address ?? null, countryLetterCode: null });
    } else if (e.type === 'process') {
      out.push({
        ...base('processEvidence'), processId: e.processId !== undefined ? Number(e.processId) : null, processCommandLine: e.commandLine ?? null,
        processCreationDateTime: iso(a.row.startTime), detectionStatus: 'detected', mdeDeviceId: a.row.agentId, parentProcessId: null,
        imageFile: { fileName: e.imageFile?.name ?? null, filePath: e.imageFile?.directory ?? null, sha256: null, sha1: null, md5: null, fileSize: null, filePublisher: null, issuer: null, signer: null },
        userAccount: null,
      });
    }
  }
  return out;
}

/** The incident as `GET /v1.0/security/incidents/{id}` returns it (with `alerts` when expanded). */
export function toGraphIncident(i: ExportIncident, ctx: ExportContext, options: { expandAlerts?: boolean } = {}): Record<string, unknown> {
  const r = i.row;
  const status = r.redirectedTo ? 'redirected' : GRAPH_INCIDENT_STATUS[r.status];
  return {
    '@odata.type': ODATA_INCIDENT,
    id: r.incidentId,
    tenantId: ctx.tenantId,
    displayName: r.title,
    description: null,
    summary: null,
    status,
    severity: r.severity.toLowerCase(),
    classification: r.classification ?? 'unknown',
    determination: r.determination ?? 'unknown',
    assignedTo: r.assignedTo ?? null,
    createdDateTime: iso(r.createdAt),
    lastUpdateDateTime: iso(r.updatedAt),
    resolvedDateTime: status === 'resolved' || status === 'redirected' ? iso(r.updatedAt) : null,
    incidentWebUrl: `${ctx.baseUrl}/portal/incidents/${r.incidentId}`,
    redirectIncidentId: r.redirectedTo,
    customTags: [],
    systemTags: r.redirectedTo ? ['Redirected'] : [],
    comments: [],
    lastModifiedBy: null,
    ...(options.expandAlerts ? { alerts: i.alerts.map((a) => toGraphAlert(a, ctx)) } : {}),
  };
}
