import { z } from 'zod';
import { protocolError } from '../../../protocol/index.ts';
import { roleAllows } from '../../auth/roles.ts';
import { changeIncidentTriage, CLASSIFICATIONS, DETERMINATIONS, MAX_ASSIGNED_TO } from '../../products/incident-triage.ts';
import { changeIncidentStatus, STATUS_ACTIONS } from '../../products/status-sync.ts';
import { SyncConfigSchema } from '../../products/sync-matrix.ts';
import type { IncidentRow, IncidentTriage } from '../../store/index.ts';
import { severityBadge } from '../components/badges.ts';
import { filterBar } from '../components/filter-bar.ts';
import { isoTime } from '../components/format.ts';
import { liveScript, liveStatus } from '../components/live.ts';
import { dataTable, type Column } from '../components/table.ts';
import { assignToMeButton, classificationLabel, liveText, triageControls } from '../components/triage.ts';
import { html, queryString } from '../html.ts';
import { ChoiceParam, DirParam, offsetOf, PageParam, PORTAL_LIMITS } from '../data/paging.ts';
import { defineAction, definePage } from '../page.ts';

const SEVERITIES = ['High', 'Medium', 'Low', 'Informational'] as const;
const STATUSES = ['Active', 'InProgress', 'Resolved'] as const;

const Query = z.object({
  severity: ChoiceParam(SEVERITIES),
  status: ChoiceParam(STATUSES),
  redirected: z.enum(['1']).optional().catch(undefined),
  /** `me` (the signed-in key's name), `none` (unassigned) or an owner's name. */
  assigned: z.string().max(MAX_ASSIGNED_TO).transform((s) => s.trim()).optional().catch(undefined),
  classification: ChoiceParam(CLASSIFICATIONS),
  sort: z.enum(['created', 'lastActivity', 'severity']).catch('created').default('created'),
  dir: DirParam,
  page: PageParam,
});

const COLUMNS: Array<Column<IncidentRow & { alertCount: number }>> = [
  { key: 'name', label: 'Incident', cell: (i) => html`<a href="/portal/incidents/${i.incidentId}">${i.title}</a>` },
  { key: 'severity', label: 'Severity', sortable: true, cell: (i) => severityBadge(i.severity) },
  { key: 'status', label: 'Status', cell: (i) => liveStatus('incident', i.incidentId, 'M365D', i.status) },
  { key: 'alerts', label: 'Alerts', numeric: true, cell: (i) => i.alertCount },
  { key: 'classification', label: 'Classification', cell: (i) => liveText('incident', i.incidentId, 'classification', classificationLabel(i.classification), 'Not set') },
  { key: 'assignedTo', label: 'Assigned to', cell: (i) => liveText('incident', i.incidentId, 'assignedTo', i.assignedTo) },
  { key: 'created', label: 'Created (UTC)', sortable: true, cell: (i) => isoTime(i.createdAt) },
  { key: 'lastActivity', label: 'Last activity (UTC)', sortable: true, cell: (i) => isoTime(i.lastActivity) },
  { key: 'redirected', label: 'Redirected to', cell: (i) => (i.redirectedTo ? html`<a href="/portal/incidents/${i.redirectedTo}">${i.redirectedTo}</a>` : '') },
];

/**
 * The M365D incident queue: newest first, filters by status, severity, owner ("Assigned to me",
 * unassigned, a name) and classification, merged-away ones on request, paged; for a responder, a
 * bulk "Manage incidents" form over the ticked rows (status, classification, determination, owner).
 */
export default definePage({
  path: '/portal/incidents',
  summary: 'Incidents page (M365D queue: filters, sort, paging)',
  query: Query,
  async handle({ store }, { query, viewer }) {
    const owner = !query.assigned ? undefined : query.assigned === 'none' ? null : query.assigned === 'me' ? viewer.name : query.assigned;
    const { rows, total } = await store.incidents.pageIncidents({
      status: query.status ? [query.status] : undefined, severity: query.severity ? [query.severity] : undefined, redirected: query.redirected === '1',
      assignedTo: owner, classification: query.classification ? [query.classification] : undefined,
      sort: query.sort, dir: query.dir, offset: offsetOf(query.page, PORTAL_LIMITS.pageSize), limit: PORTAL_LIMITS.pageSize,
    });
    const params = { severity: query.severity, status: query.status, redirected: query.redirected, assigned: query.assigned, classification: query.classification };
    const responder = roleAllows(viewer.role, 'responder');
    const columns: Array<Column<IncidentRow & { alertCount: number }>> = responder
      ? [{ key: 'select', label: 'Select', cell: (i) => (i.redirectedTo ? '' : html`<input type="checkbox" name="id" value="${i.incidentId}" form="bulk-incidents" aria-label="Select ${i.title} (${i.incidentId})">`) }, ...COLUMNS]
      : COLUMNS;
    const assignedOptions = [{ value: 'me', label: 'Me' }, { value: 'none', label: 'Unassigned' }, ...(query.assigned && !['me', 'none'].includes(query.assigned) ? [{ value: query.assigned }] : [])];
    const bulk = responder
      ? html`<form id="bulk-incidents" class="filters" method="post" action="/portal/incidents/manage" aria-label="Manage the selected incidents">
<input type="hidden" name="csrf" value="${viewer.csrf ?? ''}"><input type="hidden" name="back" value="${`/portal/incidents${queryString(params)}`}">
<label for="bulk-action">Status</label><select id="bulk-action" name="action"><option value="">Keep</option>${(['activate', 'inProgress', 'resolve'] as const).map((a) => html`<option value="${a}">${STATUS_ACTIONS[a]}</option>`)}</select>
${triageControls({ idPrefix: 'bulk', keep: true })}
<button type="submit" id="bulk-save">Apply to selected</button> ${assignToMeButton('bulk', viewer.name)}</form>`
      : html``;
    return {
      kind: 'page', title: 'Incidents', nav: 'incidents',
      body: html`${filterBar({
        path: '/portal/incidents', target: 'incidents-table', label: 'Filter incidents',
        filters: [
          { kind: 'select', name: 'status', label: 'Status', value: query.status, options: STATUSES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'severity', label: 'Severity', value: query.severity, options: SEVERITIES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'assigned', label: 'Assigned to', value: query.assigned, options: assignedOptions },
          { kind: 'select', name: 'classification', label: 'Classification', value: query.classification, options: CLASSIFICATIONS.map((v) => ({ value: v, label: classificationLabel(v) })) },
          { kind: 'select', name: 'redirected', label: 'Merged-away incidents', value: query.redirected, options: [{ value: '1', label: 'Show' }] },
        ],
      })}
${bulk}
${dataTable({
  id: 'incidents-table', caption: `${total} incidents`, path: '/portal/incidents', params, columns, rows,
  state: { sort: query.sort, dir: query.dir, page: query.page, pageSize: PORTAL_LIMITS.pageSize, total }, rowId: (i) => i.incidentId,
})}
${liveScript()}`,
    };
  },
});

const keepOr = <T extends z.ZodType>(t: T) => z.union([z.literal(''), t]).default('');
const BulkBody = z.object({
  id: z.union([z.string().max(200), z.array(z.string().max(200)).max(PORTAL_LIMITS.pageSize)]).optional(),
  action: keepOr(z.enum(['activate', 'inProgress', 'resolve'])),
  classification: keepOr(z.enum(CLASSIFICATIONS)),
  determination: keepOr(z.enum(DETERMINATIONS)),
  /** Empty keeps each incident's owner (the single-incident form unassigns with an empty owner). */
  assignedTo: z.string().max(MAX_ASSIGNED_TO).default(''),
  assignToMe: z.enum(['1']).optional(),
  back: z.string().max(2000).regex(/^\/portal\/incidents(\?|$)/).default('/portal/incidents'),
});

/**
 * "Manage incidents" over the ticked rows: a status (their alerts follow), classification,
 * determination and owner; empty fields are kept. One transaction per incident, as the alert
 * bulk action does; each change audited.
 */
export const bulkIncidents = defineAction({
  path: '/portal/incidents/manage',
  summary: 'Set status, classification, determination or owner of the selected incidents (form: id…, action, classification, determination, assignedTo, assignToMe, csrf); 303 back',
  role: 'responder',
  body: BulkBody,
  async handle({ store, clock, sync }, { body, viewer }) {
    const ids = body.id === undefined ? [] : Array.isArray(body.id) ? body.id : [body.id];
    if (ids.length === 0) throw protocolError('ARCSIM_E_VALIDATION', 'select at least one incident', 'body.id');
    const triage: IncidentTriage = {
      ...(body.classification ? { classification: body.classification } : {}),
      ...(body.determination ? { determination: body.determination } : {}),
      ...(body.assignToMe ? { assignedTo: viewer.name } : body.assignedTo.trim() ? { assignedTo: body.assignedTo.trim() } : {}),
    };
    if (!body.action && Object.keys(triage).length === 0) throw protocolError('ARCSIM_E_VALIDATION', 'choose a status, a classification, a determination or an owner', 'body');
    const config = sync ?? SyncConfigSchema.parse({});
    const reason = `by ${viewer.name} (portal, bulk)`;
    for (const id of ids) {
      await store.transaction(async (tx) => {
        if (Object.keys(triage).length) await changeIncidentTriage(tx, { incidentId: id, triage, reason, now: clock.now() });
        if (body.action) await changeIncidentStatus(tx, { incidentId: id, product: 'M365D', status: STATUS_ACTIONS[body.action]!, reason, config, now: clock.now() });
      });
    }
    return { kind: 'redirect', location: body.back };
  },
});
