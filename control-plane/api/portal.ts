import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AlertRow, Store } from '../store/index.ts';

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · arcsim</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.sev-High{color:#b00}.sev-Medium{color:#c60}.sev-Low{color:#06c}</style></head>
<body><nav><a href="/portal">arcsim portal</a> · <a href="/portal/incidents">incidents</a> · <a href="/portal/alerts">alerts</a></nav><h1>${esc(title)}</h1>${body}</body></html>`;
}

function table(rows: string[][], head: string[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/**
 * A small read-only web portal: the M365D-style alert and incident pages the alerts'
 * `extendedLinks` point to. Server-rendered HTML, no scripts.
 */
export const portal: FastifyPluginAsyncZod<{ store: Store }> = async (app, deps) => {
  const { store } = deps;
  const doc = (summary: string) => ({ tags: ['portal'], summary, produces: ['text/html'] });
  const IdParams = z.object({ id: z.string() });
  const html = (reply: FastifyReply, title: string, body: string, status = 200) => reply.status(status).type('text/html; charset=utf-8').send(page(title, body));
  const alertRow = (a: AlertRow) => [
    `<a href="/portal/alerts/${esc(a.systemAlertId)}">${esc(a.properties.alertDisplayName)}</a>`,
    `<span class="sev-${esc(a.severity)}">${esc(a.severity)}</span>`, esc(a.status), esc(a.count), esc(a.properties.compromisedEntity),
    esc(new Date(a.endTime).toISOString()),
  ];

  app.get('/portal', { schema: doc('Portal overview') }, async (_req, reply) => {
    const [alerts, incidents, machines] = await Promise.all([store.alerts.listAlerts(), store.incidents.listIncidents(), store.machines.listMachines()]);
    return html(reply, 'Overview', `<p>${machines.length} machines, ${alerts.length} alerts, ${incidents.filter((i) => !i.redirectedTo).length} incidents.</p>`);
  });

  app.get('/portal/alerts', { schema: doc('Alerts page') }, async (_req, reply) => {
    const alerts = await store.alerts.listAlerts();
    return html(reply, 'Alerts', table(alerts.map(alertRow), ['Alert', 'Severity', 'Status', 'Count', 'Entity', 'Last activity']));
  });

  app.get('/portal/alerts/:id', { schema: { ...doc('One alert, its status per product'), params: IdParams } }, async (req, reply) => {
    const { id } = req.params;
    const alert = (await store.alerts.getAlert(id)) ?? (await store.alerts.findAlertCopies(id).then((c) => (c[0] ? store.alerts.getAlert(c[0].systemAlertId) : undefined)));
    if (!alert) return html(reply, 'Alert not found', `<p>No alert ${esc(id)}.</p>`, 404);
    const [copies, incident] = await Promise.all([store.alerts.alertCopies(alert.systemAlertId), store.incidents.incidentOfAlert(alert.systemAlertId)]);
    const p = alert.properties as Record<string, any>;
    return html(reply, String(p.alertDisplayName), `
<p id="alert-type">${esc(alert.alertType)} · <span class="sev-${esc(alert.severity)}">${esc(alert.severity)}</span> · ${esc(p.intent)} · detected by ${esc(p.detectingProduct)}</p>
<p>${esc(p.description)}</p>
<p>Machine: ${esc(alert.resourceId)}<br>Occurrences: <span id="count">${esc(alert.count)}</span>, ${esc(new Date(alert.startTime).toISOString())} – ${esc(new Date(alert.endTime).toISOString())}</p>
${incident ? `<p>Incident: <a id="incident-link" href="/portal/incidents/${esc(incident)}">${esc(incident)}</a></p>` : ''}
<h2>Status per product</h2>
${table(copies.map((c) => [esc(c.product), `<code>${esc(c.copyId)}</code>`, `<span class="status">${esc(c.status)}</span>`]), ['Product', 'Alert id', 'Status'])}
<p><a href="/api/alerts/${esc(alert.systemAlertId)}">JSON</a> · <a href="/api/alerts/${esc(alert.systemAlertId)}/audit">status audit trail</a></p>`);
  });

  app.get('/portal/incidents', { schema: doc('Incidents page') }, async (_req, reply) => {
    const incidents = await store.incidents.listIncidents();
    return html(reply, 'Incidents', table(incidents.map((i) => [
      `<a href="/portal/incidents/${esc(i.incidentId)}">${esc(i.title)}</a>`, `<span class="sev-${esc(i.severity)}">${esc(i.severity)}</span>`,
      esc(i.status), i.redirectedTo ? `redirected to ${esc(i.redirectedTo)}` : '',
    ]), ['Incident', 'Severity', 'Status', '']));
  });

  app.get('/portal/incidents/:id', { schema: { ...doc('One incident and its alerts'), params: IdParams } }, async (req, reply) => {
    const { id } = req.params;
    const inc = await store.incidents.getIncident(id);
    if (!inc) return html(reply, 'Incident not found', `<p>No incident ${esc(id)}.</p>`, 404);
    const alerts = (await Promise.all((await store.incidents.incidentAlertIds(id)).map((a) => store.alerts.getAlert(a)))).filter((a): a is AlertRow => !!a);
    return html(reply, inc.title, `
<p><span class="sev-${esc(inc.severity)}">${esc(inc.severity)}</span> · <span id="status">${esc(inc.status)}</span>${inc.redirectedTo ? ` · redirected to <a href="/portal/incidents/${esc(inc.redirectedTo)}">${esc(inc.redirectedTo)}</a>` : ''}</p>
${table(alerts.map(alertRow), ['Alert', 'Severity', 'Status', 'Count', 'Entity', 'Last activity'])}`);
  });
};
