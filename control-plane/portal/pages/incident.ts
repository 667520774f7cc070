import { z } from 'zod';
import { roleAllows } from '../../auth/roles.ts';
import { changeIncidentStatus, STATUS_ACTIONS } from '../../products/status-sync.ts';
import { changeIncidentTriage, CLASSIFICATIONS, DETERMINATIONS, MAX_ASSIGNED_TO } from '../../products/incident-triage.ts';
import { SyncConfigSchema } from '../../products/sync-matrix.ts';
import type { AlertRow } from '../../store/index.ts';
import { severityBadge } from '../components/badges.ts';
import { facts, section } from '../components/facts.ts';
import { isoTime } from '../components/format.ts';
import { liveScript, liveStatus } from '../components/live.ts';
import { dataTable } from '../components/table.ts';
import { assignToMeButton, classificationLabel, determinationLabel, liveText, triageControls } from '../components/triage.ts';
import { html, type Html } from '../html.ts';
import { defineAction, definePage } from '../page.ts';
import { ALERT_COLUMNS } from './alerts.ts';

const MAX_EVIDENCE = 50;
/** Activity rows shown (newest first); the API keeps them all. */
const MAX_ACTIVITY = 100;
const FIELD_LABELS: Record<string, string> = { status: 'Status', classification: 'Classification', determination: 'Determination', assignedTo: 'Assigned to' };
const auditValue = (field: string, v: string) => (field === 'classification' ? classificationLabel(v) : field === 'determination' ? determinationLabel(v) : v || '—');

type Entity = Record<string, unknown> & { type?: string };
interface GraphEntity { key: string; kind: 'device' | 'account' | 'ip'; label: string }

/** The entities an alert names that incidents correlate on: its machine, accounts and IPs. */
function entitiesOf(a: AlertRow): GraphEntity[] {
  const out: GraphEntity[] = [{ key: `device:${a.resourceId}`, kind: 'device', label: a.resourceId.split('/').pop() ?? a.resourceId }];
  for (const e of (Array.isArray(a.properties.entities) ? a.properties.entities : []) as Entity[]) {
    if (e.type === 'account' && e.name) out.push({ key: `account:${String(e.ntDomain ?? '')}\\${String(e.name)}`.toLowerCase(), kind: 'account', label: `${e.ntDomain ? `${String(e.ntDomain)}\\` : ''}${String(e.name)}` });
    if (e.type === 'ip' && e.address) out.push({ key: `ip:${String(e.address)}`, kind: 'ip', label: String(e.address) });
  }
  return out;
}

/**
 * The incident graph: alerts on the left, the entities they name on the right, a line for each
 * mention; entities named by more than one alert (what made them one incident) are drawn bold.
 * Server-rendered SVG with a text alternative (the same facts are in the tables below it).
 */
function graph(alerts: AlertRow[]): Html {
  const entities = new Map<string, GraphEntity & { alerts: number[] }>();
  alerts.forEach((a, i) => {
    for (const e of entitiesOf(a)) {
      const known = entities.get(e.key) ?? { ...e, alerts: [] };
      if (!known.alerts.includes(i)) known.alerts.push(i);
      entities.set(e.key, known);
    }
  });
  const ents = [...entities.values()];
  const rowH = 34;
  const height = Math.max(alerts.length, ents.length) * rowH + 20;
  const ay = (i: number) => 20 + i * rowH;
  const ey = (i: number) => 20 + i * rowH;
  const shared = ents.filter((e) => e.alerts.length > 1).length;
  return html`<svg id="incident-graph" role="img" aria-labelledby="graph-title graph-desc" viewBox="0 0 760 ${height}" width="100%" height="${height}">
<title id="graph-title">Alerts and the entities they share</title>
<desc id="graph-desc">${alerts.length} alerts and ${ents.length} entities; ${shared} entities are named by more than one alert.</desc>
${ents.map((e, j) => e.alerts.map((i) => html`<line x1="300" y1="${ay(i)}" x2="460" y2="${ey(j)}" stroke="#8c959f" stroke-width="${e.alerts.length > 1 ? 2 : 1}"/>`))}
${alerts.map((a, i) => html`<g class="node alert"><circle cx="300" cy="${ay(i)}" r="7" fill="#a40e26"/><text x="288" y="${ay(i) + 4}" text-anchor="end" font-size="12" fill="#1b1b1b">${String(a.properties.alertDisplayName ?? a.alertType).slice(0, 42)}</text></g>`)}
${ents.map((e, j) => html`<g class="node entity"><rect x="454" y="${ey(j) - 7}" width="12" height="12" fill="${e.kind === 'device' ? '#0b5cad' : e.kind === 'account' ? '#116329' : '#8a4b00'}"/><text x="474" y="${ey(j) + 4}" font-size="12" fill="#1b1b1b"${e.alerts.length > 1 ? html` font-weight="bold"` : ''}>${e.kind}: ${e.label.slice(0, 40)}</text></g>`)}
</svg>`;
}

/**
 * One incident, as the M365D incident page shows it: the attack story graph (alerts and shared
 * entities), its alerts, devices, users and evidence, and for a responder its status (which its
 * alerts then follow, as resolving an M365D incident resolves its alerts).
 */
export default definePage({
  path: '/portal/incidents/{id}',
  summary: 'One incident: graph, alerts, devices, users, evidence, status',
  params: z.object({ id: z.string().max(200) }),
  async handle({ store }, { params, viewer }) {
    const inc = await store.incidents.getIncident(params.id);
    if (!inc) return { kind: 'not-found', title: 'Incident not found', message: `No incident ${params.id}.`, nav: 'incidents' };
    const alerts = (await Promise.all((await store.incidents.incidentAlertIds(params.id)).map((a) => store.alerts.getAlert(a)))).filter((a): a is AlertRow => !!a);
    const all = alerts.flatMap(entitiesOf);
    const unique = (kind: GraphEntity['kind']) => [...new Map(all.filter((e) => e.kind === kind).map((e) => [e.key, e])).values()];
    const devices = unique('device');
    const users = unique('account');
    const ips = unique('ip');
    const links = (await Promise.all(alerts.map((a) => store.alerts.alertEvents(a.systemAlertId)))).flat();
    const events = await store.events.getEvents(links.slice(0, MAX_EVIDENCE).map((l) => l.reportId));
    const activity = (await store.settings.listSyncAudit({ subject: 'incident', subjectId: inc.incidentId })).reverse().slice(0, MAX_ACTIVITY);
    const responder = roleAllows(viewer.role, 'responder') && !inc.redirectedTo;
    const triage = responder
      ? html`<form method="post" action="/portal/incidents/${inc.incidentId}/triage" id="triage-incident" class="filters" aria-label="Classify and assign the incident">
<input type="hidden" name="csrf" value="${viewer.csrf ?? ''}">${triageControls({ idPrefix: 'inc', classification: inc.classification, determination: inc.determination, assignedTo: inc.assignedTo })}
<button type="submit" id="inc-triage-save">Save</button> ${assignToMeButton('inc', viewer.name)}</form>`
      : html``;
    const manage = responder
      ? html`<form method="post" action="/portal/incidents/${inc.incidentId}/status" id="manage-incident" class="filters" aria-label="Manage incident">
<input type="hidden" name="csrf" value="${viewer.csrf ?? ''}"><label for="inc-action">Status</label><select id="inc-action" name="action">
${(['activate', 'inProgress', 'resolve'] as const).map((a) => html`<option value="${a}"${STATUS_ACTIONS[a] === inc.status ? html` selected` : ''}>${STATUS_ACTIONS[a]}</option>`)}</select>
<label for="inc-reason">Comment</label><input id="inc-reason" name="reason" maxlength="500"><button type="submit">Save</button></form>`
      : html``;
    return {
      kind: 'page', title: inc.title, nav: 'incidents',
      body: html`<p>${severityBadge(inc.severity)} · M365D status <span id="status">${liveStatus('incident', inc.incidentId, 'M365D', inc.status)}</span>${inc.sentinelStatus ? html` · Sentinel ${liveStatus('incident', inc.incidentId, 'Sentinel', inc.sentinelStatus)}` : ''}${inc.redirectedTo ? html` · redirected to <a href="/portal/incidents/${inc.redirectedTo}">${inc.redirectedTo}</a>` : ''}</p>
${manage}
${triage}
${facts([
  ['Classification', liveText('incident', inc.incidentId, 'classification', classificationLabel(inc.classification), 'Not set')],
  ['Determination', liveText('incident', inc.incidentId, 'determination', determinationLabel(inc.determination), 'Not set')],
  ['Assigned to', liveText('incident', inc.incidentId, 'assignedTo', inc.assignedTo)],
  ['Created (UTC)', isoTime(inc.createdAt)], ['First activity (UTC)', isoTime(inc.firstActivity)], ['Last activity (UTC)', isoTime(inc.lastActivity)], ['Alerts', alerts.length],
], 'incident-facts')}
${section('Attack story', graph(alerts), 'incident-story')}
${dataTable({ id: 'incident-alerts', caption: 'Alerts', path: `/portal/incidents/${inc.incidentId}`, params: {}, columns: ALERT_COLUMNS.map((c) => ({ ...c, sortable: false })), rows: alerts, state: { page: 1, pageSize: Math.max(1, alerts.length), total: alerts.length } })}
<div class="grid">
${section('Devices', html`<ul class="plain" id="incident-devices">${devices.map((d) => html`<li><a href="/portal/machines/${d.label}">${d.label}</a></li>`)}</ul>`, 'incident-devices-card')}
${section('Users', users.length ? html`<ul class="plain" id="incident-users">${users.map((u) => html`<li>${u.label}</li>`)}</ul>` : html`<p class="muted">No accounts named.</p>`, 'incident-users-card')}
${section('IP addresses', ips.length ? html`<ul class="plain" id="incident-ips">${ips.map((u) => html`<li>${u.label}</li>`)}</ul>` : html`<p class="muted">No addresses named.</p>`, 'incident-ips-card')}
</div>
${section('Evidence', events.length ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Evidence events"><table id="incident-evidence"><caption>${links.length} events linked to its alerts${links.length > MAX_EVIDENCE ? ` (first ${MAX_EVIDENCE})` : ''}</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Device</th><th scope="col">Action</th><th scope="col">Detail</th></tr></thead><tbody>
${events.map((e) => { const ev = e as unknown as Record<string, unknown>; return html`<tr><td>${String(ev.Timestamp ?? '')}</td><td>${String(ev.DeviceName ?? '')}</td><td>${String(ev.ActionType ?? '')}</td><td>${['FileName', 'ProcessCommandLine', 'RemoteIP', 'AccountName'].map((k) => ev[k]).filter((v) => v !== undefined && v !== null && v !== '').join(' · ')}</td></tr>`; })}
</tbody></table></div>` : html`<p class="muted">No linked events.</p>`, 'incident-evidence-card')}
${section('Activity log', activity.length ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Activity log"><table id="incident-activity"><caption>Status, classification and assignment changes, newest first</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Product</th><th scope="col">Change</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Reason</th></tr></thead><tbody>
${activity.map((a) => { const f = a.field ?? 'status'; return html`<tr data-field="${f}"><td>${isoTime(a.at)}</td><td>${a.product}</td><td>${FIELD_LABELS[f] ?? f}</td><td>${auditValue(f, a.fromStatus)}</td><td>${auditValue(f, a.toStatus)}</td><td>${a.reason}</td></tr>`; })}
</tbody></table></div>` : html`<p class="muted">No changes yet.</p>`, 'incident-activity-card')}
${liveScript()}`,
    };
  },
});

const TriageBody = z.object({
  classification: z.enum(CLASSIFICATIONS),
  determination: z.enum(DETERMINATIONS),
  assignedTo: z.string().max(MAX_ASSIGNED_TO).default(''),
  assignToMe: z.enum(['1']).optional(),
});

/**
 * Classifies and assigns the incident (form: classification, determination, assignedTo — empty
 * unassigns — or the "Assign to me" button, csrf); audited, its alerts assigned too; 303 back.
 */
export const incidentTriage = defineAction({
  path: '/portal/incidents/{id}/triage',
  summary: 'Set an incident\'s classification, determination and owner (form: classification, determination, assignedTo, assignToMe, csrf); 303 back',
  role: 'responder',
  params: z.object({ id: z.string().max(200) }),
  body: TriageBody,
  async handle({ store, clock }, { params, body, viewer }) {
    await store.transaction((tx) => changeIncidentTriage(tx, {
      incidentId: params.id, now: clock.now(), reason: `by ${viewer.name} (portal)`,
      triage: { classification: body.classification, determination: body.determination, assignedTo: body.assignToMe ? viewer.name : body.assignedTo },
    }));
    return { kind: 'redirect', location: `/portal/incidents/${encodeURIComponent(params.id)}` };
  },
});

/** Sets the incident's M365D status (its alerts follow by the sync matrix); 303 back to the incident. */
export const incidentStatus = defineAction({
  path: '/portal/incidents/{id}/status',
  summary: 'Set an incident\'s M365D status (form: action, reason, csrf); its alerts follow; 303 back',
  role: 'responder',
  params: z.object({ id: z.string().max(200) }),
  body: z.object({ action: z.enum(['activate', 'inProgress', 'resolve']), reason: z.string().max(500).default('') }),
  async handle({ store, clock, sync }, { params, body, viewer }) {
    await store.transaction((tx) => changeIncidentStatus(tx, {
      incidentId: params.id, product: 'M365D', status: STATUS_ACTIONS[body.action]!, config: sync ?? SyncConfigSchema.parse({}), now: clock.now(),
      reason: body.reason || `${body.action} by ${viewer.name} (portal)`,
    }));
    return { kind: 'redirect', location: `/portal/incidents/${encodeURIComponent(params.id)}` };
  },
});
