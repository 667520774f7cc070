import { protocolError } from '../../protocol/index.ts';
import type { IncidentTriage, IncidentTriageField, StoreTx } from '../store/index.ts';

/**
 * Microsoft Graph `alertClassification` members (security-incident-update, v1.0), without the
 * evolvable-enum sentinel `unknownFutureValue`.
 */
export const CLASSIFICATIONS = ['unknown', 'falsePositive', 'truePositive', 'informationalExpectedActivity'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/**
 * Graph `alertDetermination` members (v1.0; the enum table of the alert resource, plus
 * `confirmedUserActivity` as the property descriptions name it), without `unknownFutureValue`.
 */
export const DETERMINATIONS = [
  'unknown', 'apt', 'malware', 'securityPersonnel', 'securityTesting', 'unwantedSoftware', 'other', 'multiStagedAttack',
  'compromisedAccount', 'phishing', 'maliciousUserActivity', 'notMalicious', 'notEnoughDataToValidate', 'confirmedUserActivity',
  'lineOfBusinessApplication',
] as const;
export type Determination = (typeof DETERMINATIONS)[number];

/** Display names as the Defender portal shows them. */
export const CLASSIFICATION_LABELS: Record<Classification, string> = {
  unknown: 'Not set', truePositive: 'True positive', informationalExpectedActivity: 'Informational, expected activity', falsePositive: 'False positive',
};
export const DETERMINATION_LABELS: Record<Determination, string> = {
  unknown: 'Not set', apt: 'APT', malware: 'Malware', securityPersonnel: 'Security personnel', securityTesting: 'Security testing',
  unwantedSoftware: 'Unwanted software', other: 'Other', multiStagedAttack: 'Multistage attack', compromisedAccount: 'Compromised account',
  phishing: 'Phishing', maliciousUserActivity: 'Malicious user activity', notMalicious: 'Not malicious',
  notEnoughDataToValidate: 'Not enough data to validate', confirmedUserActivity: 'Confirmed activity', lineOfBusinessApplication: 'Line-of-business application',
};

/**
 * The determinations the Defender portal offers under each classification (its "Classify" menu;
 * the Graph API itself accepts any pair, and so does arcsim). `other` (offered under each there) is not listed.
 */
export const DETERMINATIONS_BY_CLASSIFICATION: Record<Exclude<Classification, 'unknown'>, Determination[]> = {
  truePositive: ['multiStagedAttack', 'maliciousUserActivity', 'compromisedAccount', 'malware', 'phishing', 'unwantedSoftware', 'apt'],
  informationalExpectedActivity: ['securityTesting', 'lineOfBusinessApplication', 'confirmedUserActivity', 'securityPersonnel'],
  falsePositive: ['notMalicious', 'notEnoughDataToValidate'],
};

/** Longest owner name (Graph documents `assignedTo` as free text; arcsim's bound). */
export const MAX_ASSIGNED_TO = 256;

export interface TriageChange {
  field: IncidentTriageField;
  from: string | null;
  to: string | null;
}

/**
 * Sets an incident's classification, determination and owner (the fields given; the others keep
 * their value) and writes one sync-audit row per field that changed, like a status change
 * (subject 'incident', product M365D, the field named). Assigning an incident assigns its alerts
 * too, as in Defender ("Assign to me" takes ownership of the incident and all its alerts), so
 * their Graph `assignedTo` follows; classification stays the incident's own. Its status is not
 * touched here: it follows the alerts (status-sync.ts). A merged-away incident is not found.
 */
export async function changeIncidentTriage(
  tx: StoreTx, req: { incidentId: string; triage: IncidentTriage; reason: string; now: number },
): Promise<TriageChange[]> {
  const inc = await tx.incidents.getIncident(req.incidentId);
  if (!inc) throw protocolError('ARCSIM_E_NOT_FOUND', `no incident ${req.incidentId}`);
  if (inc.redirectedTo) throw protocolError('ARCSIM_E_NOT_FOUND', `incident ${req.incidentId} was merged into ${inc.redirectedTo}`);
  const current: Record<IncidentTriageField, string | null> = {
    classification: inc.classification ?? 'unknown', determination: inc.determination ?? 'unknown', assignedTo: inc.assignedTo ?? null,
  };
  const changes: TriageChange[] = [];
  for (const field of ['classification', 'determination', 'assignedTo'] as const) {
    if (!(field in req.triage) || req.triage[field] === undefined) continue;
    const to = field === 'assignedTo' ? (req.triage.assignedTo?.trim() || null) : req.triage[field]!;
    if (to !== current[field]) changes.push({ field, from: current[field], to });
  }
  if (changes.length === 0) return changes;
  await tx.incidents.setIncidentTriage(inc.incidentId, Object.fromEntries(changes.map((c) => [c.field, c.to])), req.now);
  for (const c of changes) {
    await tx.settings.addSyncAudit({
      at: req.now, subject: 'incident', subjectId: inc.incidentId, product: 'M365D', fromStatus: c.from ?? '', toStatus: c.to ?? '',
      originProduct: 'M365D', viaProduct: null, reason: req.reason, field: c.field,
    });
  }
  const owner = changes.find((c) => c.field === 'assignedTo');
  if (owner) {
    for (const id of await tx.incidents.incidentAlertIds(inc.incidentId)) await tx.alerts.setAlertTriage(id, { assignedTo: owner.to }, req.now);
  }
  return changes;
}
