import { z } from 'zod';
import { severityBadge, statusBadge } from '../components/badges.ts';
import { facts, section } from '../components/facts.ts';
import { isoTime } from '../components/format.ts';
import { html } from '../html.ts';
import { findAlert } from '../data/alerts.ts';
import { definePage } from '../page.ts';

/** One alert and its status per product (portal-b: entities, evidence, remediation, Open query). */
export default definePage({
  path: '/portal/alerts/{id}',
  summary: 'One alert, its status per product',
  params: z.object({ id: z.string() }),
  async handle({ store }, { params }) {
    const alert = await findAlert(store, params.id);
    if (!alert) return { kind: 'not-found', title: 'Alert not found', message: `No alert ${params.id}.`, nav: 'alerts' };
    const [copies, incident] = await Promise.all([store.alerts.alertCopies(alert.systemAlertId), store.incidents.incidentOfAlert(alert.systemAlertId)]);
    const p = alert.properties as Record<string, unknown>;
    return {
      kind: 'page', title: String(p.alertDisplayName ?? alert.alertType), nav: 'alerts',
      body: html`<p id="alert-type">${alert.alertType} · ${severityBadge(alert.severity)} · ${String(p.intent ?? '')} · detected by ${String(p.detectingProduct ?? '')}</p>
<p>${String(p.description ?? '')}</p>
${facts([
  ['Machine', alert.resourceId],
  ['Occurrences', html`<span id="count">${alert.count}</span>`],
  ['First activity (UTC)', isoTime(alert.startTime)],
  ['Last activity (UTC)', isoTime(alert.endTime)],
  ['Incident', incident ? html`<a id="incident-link" href="/portal/incidents/${incident}">${incident}</a>` : ''],
])}
${section('Status per product', html`<table><caption>Status per product</caption><thead><tr><th scope="col">Product</th><th scope="col">Alert id</th><th scope="col">Status</th></tr></thead>
<tbody>${copies.map((c) => html`<tr><td>${c.product}</td><td><code>${c.copyId}</code></td><td><span class="status">${c.status}</span> ${statusBadge(c.status)}</td></tr>`)}</tbody></table>`, 'status-per-product')}
<p><a href="/api/alerts/${alert.systemAlertId}">JSON</a> · <a href="/api/alerts/${alert.systemAlertId}/audit">status audit trail</a></p>`,
    };
  },
});
