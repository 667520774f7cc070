import { VERSION } from '../../lib/version.ts';
import type { AlertSeverity, AlertStatus } from '../store/index.ts';
import { propsOf, tacticsOf, techniquesOf, type ExportAlert, type ExportContext, type ExportIncident } from './export-model.ts';

/*
 * OCSF 1.8.0 (Open Cybersecurity Schema Framework) findings: an alert is a Detection Finding
 * (class_uid 2004), an incident an Incident Finding (2005), both in the Findings category (2).
 * Times are OCSF `timestamp_t`: epoch milliseconds. Validated in the tests against the schema
 * itself (test/fixtures/ocsf/1.8.0, test/support/ocsf-schema.ts).
 */

export const OCSF_SCHEMA_VERSION = '1.8.0';
const FINDINGS = { category_uid: 2, category_name: 'Findings' } as const;
const DETECTION_FINDING = 2004;
const INCIDENT_FINDING = 2005;

/** severity_id: 1 Informational, 2 Low, 3 Medium, 4 High. */
const SEVERITY_ID: Record<AlertSeverity, number> = { Informational: 1, Low: 2, Medium: 3, High: 4 };
/** activity_id of a finding: 1 Create (open), 2 Update (being worked on), 3 Close. */
const ACTIVITY: Record<AlertStatus, [number, string]> = { Active: [1, 'Create'], InProgress: [2, 'Update'], Resolved: [3, 'Close'], Dismissed: [3, 'Close'] };
/** Detection Finding status_id: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved. */
const FINDING_STATUS: Record<AlertStatus, [number, string]> = { Active: [1, 'New'], InProgress: [2, 'In Progress'], Resolved: [4, 'Resolved'], Dismissed: [3, 'Suppressed'] };
/** Incident Finding status_id: 1 New, 2 In Progress, 4 Resolved, 5 Closed (a merged-away incident). */
const INCIDENT_STATUS: Record<AlertStatus, [number, string]> = { Active: [1, 'New'], InProgress: [2, 'In Progress'], Resolved: [4, 'Resolved'], Dismissed: [4, 'Resolved'] };
/** os.type_id: 100 Windows, 200 Linux; anything else is 0 Unknown. */
const OS_TYPE: Record<string, [number, string]> = { Windows: [100, 'Windows'], Linux: [200, 'Linux'] };

function metadata(uid: string, modified: number, extra: Record<string, unknown> = {}) {
  return {
    version: OCSF_SCHEMA_VERSION,
    product: { name: 'arcsim', vendor_name: 'arcsim', version: VERSION },
    uid,
    modified_time: modified,
    ...extra,
  };
}

/** The alert's `finding_info`: its id, title, rule (analytic), ATT&CK techniques and tactics, times. */
export function ocsfFindingInfo(a: ExportAlert, ctx: ExportContext): Record<string, unknown> {
  const { row } = a;
  const p = propsOf(row);
  const tactics = tacticsOf(row).map((t) => ({ name: t }));
  return {
    uid: row.systemAlertId,
    title: p.alertDisplayName ?? row.alertType,
    desc: p.description ?? '',
    types: [row.alertType],
    created_time: row.timeGenerated,
    first_seen_time: row.startTime,
    last_seen_time: row.endTime,
    modified_time: row.updatedAt,
    src_url: `${ctx.baseUrl}/portal/alerts/${row.systemAlertId}`,
    analytic: { uid: row.ruleId, name: p.ruleTitle ?? row.ruleId, type_id: 1, type: 'Rule' },
    attacks: techniquesOf(row).map((t) => ({ technique: { uid: t }, ...(tactics.length ? { tactics } : {}) })),
    ...(a.detonationIds.length ? { related_events_count: a.detonationIds.length } : {}),
  };
}

/** An alert as an OCSF Detection Finding (class 2004). */
export function toOcsfDetectionFinding(a: ExportAlert, ctx: ExportContext): Record<string, unknown> {
  const { row } = a;
  const p = propsOf(row);
  const [activityId, activityName] = ACTIVITY[row.status];
  const [statusId, status] = FINDING_STATUS[row.status];
  const host = (p.entities ?? []).find((e) => e.type === 'host');
  const [osTypeId, osType] = OS_TYPE[String(host?.osFamily)] ?? [0, 'Unknown'];
  const evidences: Array<Record<string, unknown>> = [];
  for (const e of p.entities ?? []) {
    if (e.type === 'account' && e.name) evidences.push({ user: { name: String(e.name), ...(e.ntDomain ? { domain: String(e.ntDomain) } : {}) } });
    if (e.type === 'ip' && e.address) evidences.push({ src_endpoint: { ip: String(e.address) } });
    if (e.type === 'process') {
      const name = e.imageFile?.name ? String(e.imageFile.name) : undefined;
      evidences.push({
        process: {
          ...(e.processId !== undefined ? { pid: Number(e.processId) } : {}),
          ...(e.commandLine ? { cmd_line: String(e.commandLine) } : {}),
          ...(name ? { name, file: { name, type_id: 1, type: 'Regular File', ...(e.imageFile?.directory ? { parent_folder: String(e.imageFile.directory) } : {}) } } : {}),
        },
      });
    }
  }
  return {
    activity_id: activityId,
    activity_name: activityName,
    ...FINDINGS,
    class_uid: DETECTION_FINDING,
    class_name: 'Detection Finding',
    type_uid: DETECTION_FINDING * 100 + activityId,
    type_name: `Detection Finding: ${activityName}`,
    severity_id: SEVERITY_ID[row.severity],
    severity: row.severity,
    status_id: statusId,
    status,
    time: row.timeGenerated,
    start_time: row.startTime,
    end_time: row.endTime,
    count: row.count,
    message: p.alertDisplayName ?? row.alertType,
    is_alert: true,
    metadata: metadata(row.systemAlertId, row.updatedAt, { tenant_uid: ctx.tenantId, ...(a.incidentId ? { correlation_uid: a.incidentId } : {}) }),
    finding_info: ocsfFindingInfo(a, ctx),
    device: {
      uid: row.agentId,
      name: String(p.compromisedEntity ?? host?.hostName ?? ''),
      ...(host?.hostName ? { hostname: String(host.hostName) } : {}),
      type_id: 1,
      type: 'Server',
      os: { name: String(host?.osFamily ?? 'Unknown'), type_id: osTypeId, type: osType },
    },
    resources: [{ uid: row.resourceId, type: 'Microsoft.HybridCompute/machines', name: String(p.compromisedEntity ?? '') }],
    ...(evidences.length ? { evidences } : {}),
    ...(p.remediationSteps?.length ? { remediation: { desc: p.remediationSteps.join('\n') } } : {}),
    unmapped: { alertType: row.alertType, detectingProduct: p.detectingProduct, ...(a.detonationIds.length ? { detonationIds: a.detonationIds } : {}) },
  };
}

/** An incident as an OCSF Incident Finding (class 2005), its alerts as `finding_info_list`. */
export function toOcsfIncidentFinding(i: ExportIncident, ctx: ExportContext): Record<string, unknown> {
  const r = i.row;
  const [activityId, activityName] = r.redirectedTo ? [3, 'Close'] as const : ACTIVITY[r.status];
  const [statusId, status] = r.redirectedTo ? [5, 'Closed'] as const : INCIDENT_STATUS[r.status];
  return {
    activity_id: activityId,
    activity_name: activityName,
    ...FINDINGS,
    class_uid: INCIDENT_FINDING,
    class_name: 'Incident Finding',
    type_uid: INCIDENT_FINDING * 100 + activityId,
    type_name: `Incident Finding: ${activityName}`,
    severity_id: SEVERITY_ID[r.severity],
    severity: r.severity,
    status_id: statusId,
    status,
    time: r.updatedAt,
    start_time: r.firstActivity,
    end_time: r.lastActivity,
    desc: r.title,
    src_url: `${ctx.baseUrl}/portal/incidents/${r.incidentId}`,
    metadata: metadata(r.incidentId, r.updatedAt, { tenant_uid: ctx.tenantId, profiles: ['incident'] }),
    finding_info_list: i.alerts.map((a) => ocsfFindingInfo(a, ctx)),
    ...(r.redirectedTo ? { comment: `merged into incident ${r.redirectedTo}` } : {}),
  };
}
