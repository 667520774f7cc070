import { z } from 'zod';
import { PRODUCT_VIEWS } from '../../products/sync-matrix.ts';
import type { AlertRow } from '../../store/index.ts';
import { severityBadge, statusBadge } from '../components/badges.ts';
import { filterBar } from '../components/filter-bar.ts';
import { isoTime } from '../components/format.ts';
import { dataTable, type Column } from '../components/table.ts';
import { html } from '../html.ts';
import { alertPage } from '../data/alerts.ts';
import { ChoiceParam, DirParam, offsetOf, PageParam, PORTAL_LIMITS, TextParam } from '../data/paging.ts';
import { definePage } from '../page.ts';

const SEVERITIES = ['High', 'Medium', 'Low', 'Informational'] as const;
const STATUSES = ['Active', 'InProgress', 'Resolved', 'Dismissed'] as const;

const Query = z.object({
  severity: ChoiceParam(SEVERITIES),
  status: ChoiceParam(STATUSES),
  product: ChoiceParam(PRODUCT_VIEWS),
  q: TextParam,
  sort: z.enum(['time', 'severity', 'status', 'name', 'count']).catch('time').default('time'),
  dir: DirParam,
  page: PageParam,
});

/** Shared with pages that list alerts (incident, machine). */
export const ALERT_COLUMNS: Array<Column<AlertRow>> = [
  { key: 'name', label: 'Alert', sortable: true, cell: (a) => html`<a href="/portal/alerts/${a.systemAlertId}">${String(a.properties.alertDisplayName ?? a.alertType)}</a>` },
  { key: 'severity', label: 'Severity', sortable: true, cell: (a) => severityBadge(a.severity) },
  { key: 'status', label: 'Status', sortable: true, cell: (a) => statusBadge(a.status) },
  { key: 'count', label: 'Count', sortable: true, numeric: true, cell: (a) => a.count },
  { key: 'entity', label: 'Affected resource', cell: (a) => String(a.properties.compromisedEntity ?? '') },
  { key: 'time', label: 'Last activity (UTC)', sortable: true, cell: (a) => isoTime(a.endTime) },
];

/** The alerts list (portal-b extends it into the MDC blade: machine and time filters, bulk status change). */
export default definePage({
  path: '/portal/alerts',
  summary: 'Alerts page',
  query: Query,
  async handle({ store }, { query }) {
    const { rows, total } = await alertPage(store, {
      severity: query.severity, status: query.status, product: query.product, search: query.q,
      sort: query.sort, dir: query.dir, offset: offsetOf(query.page, PORTAL_LIMITS.pageSize), limit: PORTAL_LIMITS.pageSize,
    });
    const params = { severity: query.severity, status: query.status, product: query.product, q: query.q };
    return {
      kind: 'page', title: 'Alerts', nav: 'alerts',
      body: html`${filterBar({
        path: '/portal/alerts', target: 'alerts-table', label: 'Filter alerts',
        filters: [
          { kind: 'select', name: 'severity', label: 'Severity', value: query.severity, options: SEVERITIES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'status', label: 'Status', value: query.status, options: STATUSES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'product', label: 'Product', value: query.product, options: PRODUCT_VIEWS.map((v) => ({ value: v })) },
          { kind: 'search', name: 'q', label: 'Search', value: query.q, placeholder: 'name, type or resource' },
        ],
      })}
${dataTable({
  id: 'alerts-table', caption: `${total} alerts`, path: '/portal/alerts', params, columns: ALERT_COLUMNS, rows,
  state: { sort: query.sort, dir: query.dir, page: query.page, pageSize: PORTAL_LIMITS.pageSize, total }, rowId: (a) => a.systemAlertId,
})}`,
    };
  },
});
