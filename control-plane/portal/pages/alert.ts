import { z } from 'zod';
import { roleAllows } from '../../auth/roles.ts';
import { STATUS_ACTIONS } from '../../products/status-sync.ts';
import type { AlertRow } from '../../store/index.ts';
import { severityBadge } from '../components/badges.ts';
import { facts, section } from '../components/facts.ts';
import { isoTime } from '../components/format.ts';
import { liveScript, liveStatus } from '../components/live.ts';
import { html, queryString } from '../html.ts';
import { findAlert } from '../data/alerts.ts';
import { definePage } from '../page.ts';

/** The events an alert page shows as evidence, at most. */
const MAX_EVIDENCE = 50;

/**
 * The Azure Resource Graph query Defender for Cloud's "Open query" gives for an alert: the
 * `securityresources` table, alerts by type, this alert by its name (the MDC alert id).
 */
export function openQueryFor(mdcAlertId: string): string {
  return [
    'securityresources',
    "| where type =~ 'microsoft.security/locations/alerts'",
    `| where name == '${mdcAlertId.replace(/'/g, "\\'")}'`,
    '| project id, name, AlertDisplayName = tostring(properties.alertDisplayName), Severity = tostring(properties.severity),',
    '    Status = tostring(properties.status), TimeGeneratedUtc = todatetime(properties.timeGeneratedUtc),',
    '    CompromisedEntity = tostring(properties.compromisedEntity), AlertType = tostring(properties.alertType)',
  ].join('\n');
}

type Entity = Record<string, unknown> & { type?: string };

/** One line per entity: its type and the fields that name it. */
function entityLine(e: Entity): string {
  const keys = ['hostName', 'azureID', 'address', 'name', 'ntDomain', 'commandLine', 'processId', 'url', 'fileName', 'directory', 'sid'];
  const parts = keys.filter((k) => e[k] !== undefined && e[k] !== null && typeof e[k] !== 'object').map((k) => `${k}: ${String(e[k])}`);
  return parts.join(' · ');
}

/**
 * One alert, as Defender for Cloud's alert details and the M365D alert page show it: description,
 * entities, evidence events, remediation steps, its status in each product with the sync audit,
 * working deep links (the M365D alert and incident pages), "Open query" (the hunting page with the
 * alert's Resource Graph query) and, for a responder, status buttons per product.
 */
export default definePage({
  path: '/portal/alerts/{id}',
  summary: 'One alert: description, entities, evidence, remediation, status per product, Open query',
  params: z.object({ id: z.string().max(200) }),
  async handle({ store }, { params, viewer }) {
    const alert: AlertRow | undefined = await findAlert(store, params.id);
    if (!alert) return { kind: 'not-found', title: 'Alert not found', message: `No alert ${params.id}.`, nav: 'alerts' };
    const id = alert.systemAlertId;
    const [copies, incident, links, audit] = await Promise.all([
      store.alerts.alertCopies(id), store.incidents.incidentOfAlert(id), store.alerts.alertEvents(id),
      store.settings.listSyncAudit({ subject: 'alert', subjectId: id }),
    ]);
    const events = await store.events.getEvents(links.slice(0, MAX_EVIDENCE).map((l) => l.reportId));
    const p = alert.properties as Record<string, unknown>;
    const entities = (Array.isArray(p.entities) ? p.entities : []) as Entity[];
    const steps = (Array.isArray(p.remediationSteps) ? p.remediationSteps : []).map(String);
    const m365 = copies.find((c) => c.product === 'M365D');
    const responder = roleAllows(viewer.role, 'responder');
    const statusForm = (product: string, copyId: string) => (responder
      ? html`<form method="post" action="/portal/alerts/status" class="inline"><input type="hidden" name="csrf" value="${viewer.csrf ?? ''}">
<input type="hidden" name="id" value="${copyId}"><input type="hidden" name="product" value="${product}"><input type="hidden" name="back" value="${`/portal/alerts/${id}`}">
<select id="act-${product}" name="action" aria-label="New status in ${product}">${Object.entries(STATUS_ACTIONS).map(([a, s]) => html`<option value="${a}">${s}</option>`)}</select>
<button type="submit" name="go" value="1">Set in ${product}</button></form>`
      : '');
    const deepLinks = html`<ul class="plain" id="deep-links">
${m365 ? html`<li><a id="m365-alert-link" href="/portal/alerts/${m365.copyId}">Alert in Microsoft 365 Defender (${m365.copyId})</a></li>` : html`<li class="muted">Not shown in Microsoft 365 Defender under this sync profile</li>`}
${incident ? html`<li><a id="incident-link" href="/portal/incidents/${incident}">Incident ${incident}</a></li>` : ''}
<li><a href="/api/alerts/${id}">Alert JSON (MDC REST)</a> · <a href="/api/alerts/${id}/audit">status audit trail (JSON)</a></li></ul>`;
    return {
      kind: 'page', title: String(p.alertDisplayName ?? alert.alertType), nav: 'alerts',
      body: html`<p id="alert-type">${alert.alertType} · ${severityBadge(alert.severity)} · ${String(p.intent ?? '')} · detected by ${String(p.detectingProduct ?? '')}</p>
<p><a class="button" id="open-query" href="/portal/hunting${queryString({ query: openQueryFor(id), run: '1' })}">Open query</a></p>
<div class="split"><div>
${section('Description', html`<p id="description">${String(p.description ?? '')}</p>`, 'alert-description')}
${section('Entities', entities.length
  ? html`<ul class="plain" id="entities">${entities.map((e) => html`<li><b>${String(e.type ?? 'entity')}</b> ${entityLine(e)}</li>`)}</ul>`
  : html`<p class="muted">No entities.</p>`, 'alert-entities')}
${section('Evidence events', events.length
  ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Evidence events"><table id="evidence"><caption>${links.length} linked events${links.length > MAX_EVIDENCE ? ` (first ${MAX_EVIDENCE})` : ''}</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Table</th><th scope="col">Action</th><th scope="col">Detail</th></tr></thead>
<tbody>${events.map((e) => {
    const ev = e as unknown as Record<string, unknown>;
    const detail = ['FileName', 'ProcessCommandLine', 'RemoteIP', 'AccountName', 'Statement'].map((k) => ev[k]).filter((v) => v !== undefined && v !== null && v !== '').join(' · ');
    return html`<tr><td>${String(ev.Timestamp ?? '')}</td><td>${String(ev.table ?? ev.Table ?? '')}</td><td>${String(ev.ActionType ?? '')}</td><td>${detail}</td></tr>`;
  })}</tbody></table></div>`
  : html`<p class="muted">No linked events.</p>`, 'alert-evidence')}
${section('Remediation steps', steps.length ? html`<ol id="remediation">${steps.map((s) => html`<li>${s}</li>`)}</ol>` : html`<p class="muted">None given.</p>`, 'alert-remediation')}
</div><div>
${facts([
  ['Machine', alert.resourceId],
  ['Compromised entity', String(p.compromisedEntity ?? '')],
  ['Occurrences', html`<span id="count">${alert.count}</span>`],
  ['First activity (UTC)', isoTime(alert.startTime)],
  ['Last activity (UTC)', isoTime(alert.endTime)],
  ['Techniques', (Array.isArray(p.techniques) ? p.techniques : []).join(', ')],
])}
${section('Links', deepLinks, 'alert-links')}
${section('Status per product', html`<table id="status-table"><caption>Each product's copy of the alert</caption><thead><tr><th scope="col">Product</th><th scope="col">Alert id</th><th scope="col">Status</th>${responder ? html`<th scope="col">Change</th>` : ''}</tr></thead>
<tbody>${copies.map((c) => html`<tr data-product="${c.product}"><td>${c.product}</td><td><code>${c.copyId}</code></td><td>${liveStatus('alert', id, c.product, c.status)}</td>${responder ? html`<td>${statusForm(c.product, c.copyId)}</td>` : ''}</tr>`)}</tbody></table>`, 'status-per-product')}
${section('Sync audit', audit.length
  ? html`<table id="sync-audit"><caption>Status changes, the one asked for and each one the sync matrix carried</caption><thead><tr><th scope="col">Time (UTC)</th><th scope="col">Product</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Via</th><th scope="col">Reason</th></tr></thead>
<tbody>${audit.map((a) => html`<tr><td>${isoTime(a.at)}</td><td>${a.product}</td><td>${a.fromStatus}</td><td>${a.toStatus}</td><td>${a.viaProduct ?? html`<span class="muted">(asked)</span>`}</td><td>${a.reason}</td></tr>`)}</tbody></table>`
  : html`<p class="muted">No status change yet.</p>`, 'alert-sync-audit')}
</div></div>
${liveScript()}`,
    };
  },
});
