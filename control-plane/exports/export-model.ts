import type { AlertCopyRow, AlertRow, AlertSeverity, AlertStatus, IncidentRow } from '../store/index.ts';

/**
 * What every export format reads: an alert with the facts around it (its incident, product
 * copies, detonations), and an incident with its alerts. Built once from the store
 * (`loadExportAlert`, exports/export-source.ts), rendered by the pure functions of each format.
 */
export interface ExportAlert {
  row: AlertRow;
  /** The M365D incident holding it, if any. */
  incidentId?: string;
  copies: AlertCopyRow[];
  detonationIds: string[];
}

export interface ExportIncident {
  row: IncidentRow;
  alerts: ExportAlert[];
}

/** Where the exported alert lives: the control plane's own links and the lab's tenant. */
export interface ExportContext {
  /** The control plane's public base URL (alert and incident links). */
  baseUrl: string;
  /** Tenant id stamped on Graph / Sentinel records (the lab has none of its own; see docs/exports.md). */
  tenantId: string;
}

/** The MDC properties an alert keeps in `properties` (alert-deduper.ts, cspm-findings.ts). */
export interface AlertProps {
  alertDisplayName?: string;
  description?: string;
  intent?: string;
  detectingProduct?: string;
  detectionSource?: string;
  remediationSteps?: string[];
  ruleTitle?: string;
  techniques?: string[];
  subTechniques?: string[];
  compromisedEntity?: string;
  entities?: Array<Record<string, any>>;
  location?: { subscription: string; resourceGroup: string; location: string };
}

export const propsOf = (row: AlertRow): AlertProps => row.properties as AlertProps;

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The lab's tenant when none is configured: a fixed, obviously synthetic GUID. */
export const LAB_TENANT_ID = '00000000-0000-0000-0000-00000000a5c1';

export const SEVERITIES: readonly AlertSeverity[] = ['Informational', 'Low', 'Medium', 'High'];
export const STATUSES: readonly AlertStatus[] = ['Active', 'InProgress', 'Resolved', 'Dismissed'];

/** MITRE tactics (MDC `intent`, comma separated) as a list, `Unknown` left out. */
export function tacticsOf(row: AlertRow): string[] {
  return String(propsOf(row).intent ?? '').split(',').map((t) => t.trim()).filter((t) => t && t !== 'Unknown');
}

/** ATT&CK technique ids, sub-techniques included (T1110, T1110.001). */
export function techniquesOf(row: AlertRow): string[] {
  const p = propsOf(row);
  return [...(p.techniques ?? []), ...(p.subTechniques ?? [])];
}
