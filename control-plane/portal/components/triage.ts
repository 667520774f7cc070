import {
  CLASSIFICATION_LABELS, CLASSIFICATIONS, DETERMINATION_LABELS, DETERMINATIONS_BY_CLASSIFICATION, MAX_ASSIGNED_TO,
  type Classification, type Determination,
} from '../../products/incident-triage.ts';
import { html, type Html } from '../html.ts';

/** A value the live feed keeps current as text: `data-live-status="incident:<id>:M365D:<field>"`, `data-live-kind="text"`. */
export function liveText(subject: 'incident', id: string, field: string, text: string | null | undefined, empty = 'Unassigned'): Html {
  return html`<span class="live-text" data-live-status="${subject}:${id}:M365D:${field}" data-live-kind="text" data-live-empty="${empty}">${text || empty}</span>`;
}

export const classificationLabel = (c: string | undefined) => CLASSIFICATION_LABELS[(c ?? 'unknown') as Classification] ?? c ?? '';
export const determinationLabel = (d: string | undefined) => DETERMINATION_LABELS[(d ?? 'unknown') as Determination] ?? d ?? '';

/**
 * The classification and determination selects (determinations grouped under their classification,
 * as the Defender portal's Classify menu shows them) and the owner field.
 * `keep` adds an empty first choice meaning "leave as it is" (the bulk form).
 */
export function triageControls(o: { idPrefix: string; classification?: string; determination?: string; assignedTo?: string | null; keep?: boolean }): Html {
  const sel = (v: string, cur: string | undefined) => (v === cur ? html` selected` : '');
  const keep = o.keep ? html`<option value="">Keep</option>` : '';
  return html`<label for="${o.idPrefix}-classification">Classification</label><select id="${o.idPrefix}-classification" name="classification">${keep}
${CLASSIFICATIONS.map((c) => html`<option value="${c}"${sel(c, o.classification)}>${CLASSIFICATION_LABELS[c]}</option>`)}</select>
<label for="${o.idPrefix}-determination">Determination</label><select id="${o.idPrefix}-determination" name="determination">${keep}
<option value="unknown"${sel('unknown', o.determination)}>${DETERMINATION_LABELS.unknown}</option>
${Object.entries(DETERMINATIONS_BY_CLASSIFICATION).map(([c, ds]) => html`<optgroup label="${CLASSIFICATION_LABELS[c as Classification]}">${ds.map((d) => html`<option value="${d}"${sel(d, o.determination)}>${DETERMINATION_LABELS[d]}</option>`)}</optgroup>`)}
<option value="other"${sel('other', o.determination)}>${DETERMINATION_LABELS.other}</option></select>
<label for="${o.idPrefix}-assigned">Assigned to</label><input id="${o.idPrefix}-assigned" name="assignedTo" maxlength="${MAX_ASSIGNED_TO}" value="${o.assignedTo ?? ''}"${o.keep ? html` placeholder="keep"` : ''}>`;
}

/**
 * "Assign to me": a second submit button of the form (after its Save, so Enter in a field saves
 * rather than assigns) that sets the owner to the signed-in key's name.
 */
export function assignToMeButton(idPrefix: string, me: string): Html {
  return html`<button type="submit" name="assignToMe" value="1" id="${idPrefix}-assign-me" title="Assign to ${me}">Assign to me</button>`;
}
