import { z } from 'zod';
import type { IncidentRow } from '../../store/index.ts';
import { severityBadge } from '../components/badges.ts';
import { filterBar } from '../components/filter-bar.ts';
import { isoTime } from '../components/format.ts';
import { liveScript, liveStatus } from '../components/live.ts';
import { dataTable, type Column } from '../components/table.ts';
import { html } from '../html.ts';
import { ChoiceParam, DirParam, offsetOf, PageParam, PORTAL_LIMITS } from '../data/paging.ts';
import { definePage } from '../page.ts';

const SEVERITIES = ['High', 'Medium', 'Low', 'Informational'] as const;
const STATUSES = ['Active', 'InProgress', 'Resolved'] as const;

const Query = z.object({
  severity: ChoiceParam(SEVERITIES),
  status: ChoiceParam(STATUSES),
  redirected: z.enum(['1']).optional().catch(undefined),
  sort: z.enum(['created', 'lastActivity', 'severity']).catch('created').default('created'),
  dir: DirParam,
  page: PageParam,
});

const COLUMNS: Array<Column<IncidentRow & { alertCount: number }>> = [
  { key: 'name', label: 'Incident', cell: (i) => html`<a href="/portal/incidents/${i.incidentId}">${i.title}</a>` },
  { key: 'severity', label: 'Severity', sortable: true, cell: (i) => severityBadge(i.severity) },
  { key: 'status', label: 'Status', cell: (i) => liveStatus('incident', i.incidentId, 'M365D', i.status) },
  { key: 'alerts', label: 'Alerts', numeric: true, cell: (i) => i.alertCount },
  { key: 'created', label: 'Created (UTC)', sortable: true, cell: (i) => isoTime(i.createdAt) },
  { key: 'lastActivity', label: 'Last activity (UTC)', sortable: true, cell: (i) => isoTime(i.lastActivity) },
  { key: 'redirected', label: 'Redirected to', cell: (i) => (i.redirectedTo ? html`<a href="/portal/incidents/${i.redirectedTo}">${i.redirectedTo}</a>` : '') },
];

/** The M365D incident queue: newest first, filters by status and severity, merged-away ones on request, paged. */
export default definePage({
  path: '/portal/incidents',
  summary: 'Incidents page (M365D queue: filters, sort, paging)',
  query: Query,
  async handle({ store }, { query }) {
    const { rows, total } = await store.incidents.pageIncidents({
      status: query.status ? [query.status] : undefined, severity: query.severity ? [query.severity] : undefined, redirected: query.redirected === '1',
      sort: query.sort, dir: query.dir, offset: offsetOf(query.page, PORTAL_LIMITS.pageSize), limit: PORTAL_LIMITS.pageSize,
    });
    const params = { severity: query.severity, status: query.status, redirected: query.redirected };
    return {
      kind: 'page', title: 'Incidents', nav: 'incidents',
      body: html`${filterBar({
        path: '/portal/incidents', target: 'incidents-table', label: 'Filter incidents',
        filters: [
          { kind: 'select', name: 'status', label: 'Status', value: query.status, options: STATUSES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'severity', label: 'Severity', value: query.severity, options: SEVERITIES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'redirected', label: 'Merged-away incidents', value: query.redirected, options: [{ value: '1', label: 'Show' }] },
        ],
      })}
${dataTable({
  id: 'incidents-table', caption: `${total} incidents`, path: '/portal/incidents', params, columns: COLUMNS, rows,
  state: { sort: query.sort, dir: query.dir, page: query.page, pageSize: PORTAL_LIMITS.pageSize, total }, rowId: (i) => i.incidentId,
})}
${liveScript()}`,
    };
  },
});
