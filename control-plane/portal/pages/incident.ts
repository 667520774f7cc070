import { z } from 'zod';
import type { AlertRow } from '../../store/index.ts';
import { html } from '../html.ts';
import { severityBadge } from '../components/badges.ts';
import { dataTable } from '../components/table.ts';
import { definePage } from '../page.ts';
import { ALERT_COLUMNS } from './alerts.ts';

/** One incident and its alerts (portal-b: devices, users, evidence, graph, responder actions). */
export default definePage({
  path: '/portal/incidents/{id}',
  summary: 'One incident and its alerts',
  params: z.object({ id: z.string() }),
  async handle({ store }, { params }) {
    const inc = await store.incidents.getIncident(params.id);
    if (!inc) return { kind: 'not-found', title: 'Incident not found', message: `No incident ${params.id}.`, nav: 'incidents' };
    const alerts = (await Promise.all((await store.incidents.incidentAlertIds(params.id)).map((a) => store.alerts.getAlert(a)))).filter((a): a is AlertRow => !!a);
    return {
      kind: 'page', title: inc.title, nav: 'incidents',
      body: html`<p>${severityBadge(inc.severity)} · <span id="status">${inc.status}</span>${inc.redirectedTo ? html` · redirected to <a href="/portal/incidents/${inc.redirectedTo}">${inc.redirectedTo}</a>` : ''}</p>
${dataTable({ id: 'incident-alerts', caption: 'Alerts', path: `/portal/incidents/${inc.incidentId}`, params: {}, columns: ALERT_COLUMNS.map((c) => ({ ...c, sortable: false })), rows: alerts, state: { page: 1, pageSize: Math.max(1, alerts.length), total: alerts.length } })}`,
    };
  },
});
