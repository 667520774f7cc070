import { VERSION } from '../../lib/version.ts';
import type { AlertSeverity } from '../store/index.ts';
import { propsOf, tacticsOf, techniquesOf, type ExportAlert, type ExportContext } from './export-model.ts';

/*
 * ArcSight Common Event Format (CEF, "Implementing ArcSight CEF" rev. 25):
 *   CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
 * Header fields escape `\` and `|` with a backslash; extension values escape `\` and `=`, and
 * carry line breaks as `\n` / `\r`. Keys are the dictionary's (rt, start, end, cnt, dhost, duser,
 * src, msg, cat, externalId, deviceExternalId, dproc, request, csN/csNLabel).
 */

/** CEF severity 0-10: Low 0-3, Medium 4-6, High 7-8, Very-High 9-10. */
export const CEF_SEVERITY: Record<AlertSeverity, number> = { Informational: 1, Low: 3, Medium: 5, High: 8 };

const PRODUCTS: Record<string, string> = {
  MDE: 'Microsoft Defender for Endpoint',
  MDC: 'Microsoft Defender for Cloud',
  DefenderForSQL: 'Microsoft Defender for Cloud',
  CSPM: 'Microsoft Defender for Cloud',
};

/** Escapes a header field: backslash and pipe; a line break (never valid in a header) becomes a space. */
export function cefHeaderEscape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r\n|\r|\n/g, ' ');
}

/** Escapes an extension value: backslash, equals sign, and line breaks as `\n` / `\r`. */
export function cefExtensionEscape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r\n/g, '\\n').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** One CEF line (no trailing newline) for an alert. */
export function toCef(a: ExportAlert, ctx: ExportContext): string {
  const { row } = a;
  const p = propsOf(row);
  const host = (p.entities ?? []).find((e) => e.type === 'host');
  const account = (p.entities ?? []).find((e) => e.type === 'account');
  const ip = (p.entities ?? []).find((e) => e.type === 'ip');
  const proc = (p.entities ?? []).find((e) => e.type === 'process');
  const header = [
    'CEF:0', 'Microsoft', PRODUCTS[p.detectingProduct ?? 'MDC'] ?? 'Microsoft Defender for Cloud', `arcsim-${VERSION}`,
    row.alertType, p.alertDisplayName ?? row.alertType, String(CEF_SEVERITY[row.severity]),
  ];
  const ext: Array<[string, string | number | undefined]> = [
    ['rt', row.timeGenerated],
    ['start', row.startTime],
    ['end', row.endTime],
    ['cnt', row.count],
    ['externalId', row.systemAlertId],
    ['deviceExternalId', row.agentId],
    ['dhost', host?.hostName ?? p.compromisedEntity],
    ['duser', account?.name],
    ['src', ip?.address],
    ['dproc', proc?.imageFile?.name],
    ['cat', tacticsOf(row).join(',') || undefined],
    ['msg', p.description],
    ['request', `${ctx.baseUrl}/portal/alerts/${row.systemAlertId}`],
    ['cs1Label', 'Status'], ['cs1', row.status],
    ['cs2Label', 'IncidentId'], ['cs2', a.incidentId],
    ['cs3Label', 'ResourceId'], ['cs3', row.resourceId],
    ['cs4Label', 'Techniques'], ['cs4', techniquesOf(row).join(',') || undefined],
    ['cs5Label', 'DetonationIds'], ['cs5', a.detonationIds.join(',') || undefined],
    ['cs6Label', 'CommandLine'], ['cs6', proc?.commandLine],
  ];
  // A label is sent only with its value.
  const present = ext.filter(([k, v], i) => v !== undefined && v !== '' && !(k.endsWith('Label') && (ext[i + 1]![1] === undefined || ext[i + 1]![1] === '')));
  return `${header.map(cefHeaderEscape).join('|')}|${present.map(([k, v]) => `${k}=${cefExtensionEscape(String(v))}`).join(' ')}`;
}
