import { z } from 'zod';
import { protocolError } from '../../../protocol/index.ts';
import { roleAllows } from '../../auth/roles.ts';
import { changeAlertStatus, STATUS_ACTIONS } from '../../products/status-sync.ts';
import { PRODUCT_VIEWS, SyncConfigSchema, type ProductView } from '../../products/sync-matrix.ts';
import type { AlertRow, AlertStatus } from '../../store/index.ts';
import { severityBadge, statusBadge } from '../components/badges.ts';
import { filterBar } from '../components/filter-bar.ts';
import { fromLocalInput, isoTime, toLocalInput } from '../components/format.ts';
import { liveScript, liveStatus } from '../components/live.ts';
import { dataTable, type Column } from '../components/table.ts';
import { html, queryString } from '../html.ts';
import { alertPage } from '../data/alerts.ts';
import { ChoiceParam, DirParam, offsetOf, PageParam, PORTAL_LIMITS, TextParam } from '../data/paging.ts';
import { defineAction, definePage } from '../page.ts';

const SEVERITIES = ['High', 'Medium', 'Low', 'Informational'] as const;
const STATUSES = ['Active', 'InProgress', 'Resolved', 'Dismissed'] as const;

const Query = z.object({
  severity: ChoiceParam(SEVERITIES),
  status: ChoiceParam(STATUSES),
  product: ChoiceParam(PRODUCT_VIEWS),
  machine: TextParam,
  from: TextParam,
  to: TextParam,
  q: TextParam,
  sort: z.enum(['time', 'severity', 'status', 'name', 'count']).catch('time').default('time'),
  dir: DirParam,
  page: PageParam,
});

type Listed = AlertRow & { viewStatus?: AlertStatus; viewId?: string };

/** The product whose status a row shows: the view asked for, else the detection's owner. */
const shownProduct = (a: Listed, view: ProductView | undefined) => view ?? (a.properties.detectingProduct === 'MDE' ? 'MDE' : 'MDC');

/** Shared with pages that list alerts (incident, machine). Status cells follow the live feed. */
export const ALERT_COLUMNS: Array<Column<AlertRow>> = [
  { key: 'name', label: 'Alert', sortable: true, cell: (a) => html`<a href="/portal/alerts/${a.systemAlertId}">${String(a.properties.alertDisplayName ?? a.alertType)}</a>` },
  { key: 'severity', label: 'Severity', sortable: true, cell: (a) => severityBadge(a.severity) },
  { key: 'status', label: 'Status', sortable: true, cell: (a) => liveStatus('alert', a.systemAlertId, shownProduct(a, undefined), a.status) },
  { key: 'count', label: 'Count', sortable: true, numeric: true, cell: (a) => a.count },
  { key: 'entity', label: 'Affected resource', cell: (a) => String(a.properties.compromisedEntity ?? '') },
  { key: 'time', label: 'Last activity (UTC)', sortable: true, cell: (a) => isoTime(a.endTime) },
];

/**
 * The alerts list in the style of the Defender for Cloud security alerts blade: filters by
 * severity, status, product view, machine, activity time and text; sorting; paging; and, for a
 * responder, a bulk status change of the selected alerts in the product the list shows.
 */
export default definePage({
  path: '/portal/alerts',
  summary: 'Alerts page (filters, sort, paging, bulk status change)',
  query: Query,
  async handle({ store }, { query, viewer }) {
    const from = fromLocalInput(query.from);
    const to = fromLocalInput(query.to);
    const { rows, total } = await alertPage(store, {
      severity: query.severity, status: query.status, product: query.product, machine: query.machine, from, to, search: query.q,
      sort: query.sort, dir: query.dir, offset: offsetOf(query.page, PORTAL_LIMITS.pageSize), limit: PORTAL_LIMITS.pageSize,
    });
    const params = { severity: query.severity, status: query.status, product: query.product, machine: query.machine, from: query.from, to: query.to, q: query.q };
    const responder = roleAllows(viewer.role, 'responder');
    const view = query.product;
    const columns: Array<Column<Listed>> = [
      ...(responder ? [{
        key: 'select', label: 'Select',
        cell: (a: Listed) => html`<input type="checkbox" name="id" value="${a.viewId ?? a.systemAlertId}" form="bulk-status" aria-label="Select ${String(a.properties.alertDisplayName ?? a.alertType)}">`,
      }] : []),
      ...ALERT_COLUMNS.map((c) => (c.key === 'status'
        ? { ...c, label: view ? `Status in ${view}` : 'Status', cell: (a: Listed) => liveStatus('alert', a.systemAlertId, shownProduct(a, view), a.viewStatus ?? a.status) }
        : c)),
    ];
    const bulk = responder
      ? html`<form id="bulk-status" class="filters" method="post" action="/portal/alerts/status" aria-label="Change the status of the selected alerts">
<input type="hidden" name="csrf" value="${viewer.csrf ?? ''}"><input type="hidden" name="back" value="${`/portal/alerts${queryString(params)}`}">
<label for="bulk-product">Product</label><select id="bulk-product" name="product">${PRODUCT_VIEWS.map((p) => html`<option value="${p}"${p === (view ?? 'MDC') ? html` selected` : ''}>${p}</option>`)}</select>
<label for="bulk-action">Set status</label><select id="bulk-action" name="action">${Object.entries(STATUS_ACTIONS).map(([a, s]) => html`<option value="${a}">${s}</option>`)}</select>
<label for="bulk-reason">Comment</label><input id="bulk-reason" name="reason" maxlength="500">
<button type="submit">Change selected</button></form>`
      : html``;
    return {
      kind: 'page', title: 'Alerts', nav: 'alerts',
      body: html`${filterBar({
        path: '/portal/alerts', target: 'alerts-table', label: 'Filter alerts',
        filters: [
          { kind: 'select', name: 'severity', label: 'Severity', value: query.severity, options: SEVERITIES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'status', label: 'Status', value: query.status, options: STATUSES.map((v) => ({ value: v })) },
          { kind: 'select', name: 'product', label: 'Product', value: query.product, options: PRODUCT_VIEWS.map((v) => ({ value: v })) },
          { kind: 'search', name: 'machine', label: 'Machine', value: query.machine, placeholder: 'machine name' },
          { kind: 'datetime', name: 'from', label: 'Active from (UTC)', value: toLocalInput(from) },
          { kind: 'datetime', name: 'to', label: 'to', value: toLocalInput(to) },
          { kind: 'search', name: 'q', label: 'Search', value: query.q, placeholder: 'name, type or resource' },
        ],
      })}
${bulk}
${dataTable({
  id: 'alerts-table', caption: `${total} alerts`, path: '/portal/alerts', params, columns, rows,
  state: { sort: query.sort, dir: query.dir, page: query.page, pageSize: PORTAL_LIMITS.pageSize, total }, rowId: (a) => a.systemAlertId,
})}
${liveScript()}`,
    };
  },
});

const BulkBody = z.object({
  id: z.union([z.string().max(200), z.array(z.string().max(200)).max(PORTAL_LIMITS.pageSize)]).optional(),
  product: z.enum(PRODUCT_VIEWS),
  action: z.enum(Object.keys(STATUS_ACTIONS) as [string, ...string[]]),
  reason: z.string().max(500).default(''),
  back: z.string().max(2000).regex(/^\/portal\/alerts(\/[\w.-]+)?(\?|$)/).default('/portal/alerts'),
});

/** Sets the status of the selected alerts in one product (each by the sync matrix, one transaction each). */
export const bulkStatus = defineAction({
  path: '/portal/alerts/status',
  summary: 'Change the status of the selected alerts in one product (form: id…, product, action, reason, csrf); 303 back to the list',
  role: 'responder',
  body: BulkBody,
  async handle({ store, clock, sync }, { body, viewer }) {
    const ids = body.id === undefined ? [] : Array.isArray(body.id) ? body.id : [body.id];
    if (ids.length === 0) throw protocolError('ARCSIM_E_VALIDATION', 'select at least one alert', 'body.id');
    const config = sync ?? SyncConfigSchema.parse({});
    for (const id of ids) {
      await store.transaction((tx) => changeAlertStatus(tx, {
        id, product: body.product, status: STATUS_ACTIONS[body.action]!, config, now: clock.now(),
        reason: body.reason || `${body.action} in ${body.product} by ${viewer.name} (portal)`,
      }));
    }
    return { kind: 'redirect', location: body.back };
  },
});
