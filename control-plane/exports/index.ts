import type { Store } from '../store/index.ts';
import { toCef } from './cef.ts';
import type { ExportContext } from './export-model.ts';
import { loadExport } from './export-source.ts';
import { toGraphAlert, toGraphIncident } from './graph.ts';
import { toOcsfDetectionFinding, toOcsfIncidentFinding } from './ocsf.ts';
import { toSentinelAlert, toSentinelIncident } from './sentinel.ts';

export { toCef, cefExtensionEscape, cefHeaderEscape, CEF_SEVERITY } from './cef.ts';
export { toGraphAlert, toGraphIncident, graphAlertId, GRAPH_ALERT_STATUS } from './graph.ts';
export { toSentinelAlert, toSentinelIncident } from './sentinel.ts';
export { toOcsfDetectionFinding, toOcsfIncidentFinding, OCSF_SCHEMA_VERSION } from './ocsf.ts';
export { loadExport, loadExportAlert, loadExportIncident } from './export-source.ts';
export { LAB_TENANT_ID, type ExportAlert, type ExportContext, type ExportIncident } from './export-model.ts';

export const EXPORT_FORMATS = ['graph', 'sentinel', 'ocsf', 'cef'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * Alerts and incidents changed since `since` (epoch ms), rendered in one format: Graph
 * alerts_v2 / incidents, Sentinel SecurityAlert / SecurityIncident rows, OCSF Detection (2004) /
 * Incident (2005) Findings, or CEF lines (alerts only: CEF has no incident record).
 */
export async function exportRecords(store: Pick<Store, 'alerts' | 'incidents'>, format: ExportFormat, ctx: ExportContext, since?: number): Promise<{ alerts: unknown[]; incidents: unknown[] }> {
  const data = await loadExport(store, since);
  switch (format) {
    case 'graph':
      return { alerts: data.alerts.map((a) => toGraphAlert(a, ctx)), incidents: data.incidents.map((i) => toGraphIncident(i, ctx)) };
    case 'sentinel':
      return { alerts: data.alerts.map((a) => toSentinelAlert(a, ctx)), incidents: data.incidents.map((i) => toSentinelIncident(i, ctx, i.number)) };
    case 'ocsf':
      return { alerts: data.alerts.map((a) => toOcsfDetectionFinding(a, ctx)), incidents: data.incidents.map((i) => toOcsfIncidentFinding(i, ctx)) };
    case 'cef':
      return { alerts: data.alerts.map((a) => toCef(a, ctx)), incidents: [] };
  }
}
