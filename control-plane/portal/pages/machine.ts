import { z } from 'zod';
import { TABLE_NAMES, type SensorEvent } from '../../../protocol/index.ts';
import type { AlertRow, MachineRow } from '../../store/index.ts';
import { badge } from '../components/badges.ts';
import { emptyState } from '../components/empty.ts';
import { facts, section } from '../components/facts.ts';
import { filterBar } from '../components/filter-bar.ts';
import { fromLocalInput, isoTime, toLocalInput } from '../components/format.ts';
import { dataTable, hxSwap } from '../components/table.ts';
import { html, queryString, type Html } from '../html.ts';
import { eventSummary, parseCursor, processTree, timelineEvent, timelinePage, type ProcessNode } from '../data/timeline.ts';
import { PORTAL_LIMITS, TextParam } from '../data/paging.ts';
import { definePage } from '../page.ts';
import { ALERT_COLUMNS } from './alerts.ts';

const Query = z.object({
  table: z.enum(TABLE_NAMES as [string, ...string[]]).optional().catch(undefined),
  action: TextParam,
  from: TextParam,
  to: TextParam,
  before: TextParam,
  event: z.uuid().optional().catch(undefined),
});

async function machineByName(store: Parameters<typeof timelinePage>[0], name: string): Promise<MachineRow | undefined> {
  return (await store.machines.listMachines()).find((m) => m.name === name);
}

function tree(n: ProcessNode, base: string): Html {
  const label = html`<b>${n.name}</b>${n.pid !== undefined ? html` <span class="muted">(${n.pid})</span>` : ''}${n.commandLine ? html`<br><code>${n.commandLine}</code>` : ''}`;
  const item = n.reportId && !n.selected ? html`<a href="${base}&event=${n.reportId}">${label}</a>` : label;
  return html`<li${n.selected ? html` class="selected" aria-current="true"` : ''}>${item}${n.children.length ? html`<ul>${n.children.map((c) => tree(c, base))}</ul>` : ''}</li>`;
}

function detailPane(e: SensorEvent | undefined, procTree: ProcessNode | undefined, base: string): Html {
  if (!e) return html`<aside id="event-detail" class="card detail" aria-label="Event details"><p class="muted">Select an event to see its details.</p></aside>`;
  const fields = Object.entries(e as unknown as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return html`<aside id="event-detail" class="card detail" aria-labelledby="event-detail-h"><h2 id="event-detail-h">${e.Table}: ${String((e as unknown as Record<string, unknown>).ActionType ?? '')}</h2>
<p>${eventSummary(e)}</p>
${procTree ? html`<h3>Process tree</h3><ul class="tree" id="process-tree">${tree(procTree, base)}</ul>` : ''}
<h3>Fields</h3>${facts(fields.map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]), 'event-fields')}</aside>`;
}

/** A machine: its facts, extensions, SQL instances, open alerts and the MDE-style device timeline. */
export default definePage({
  path: '/portal/machines/{name}',
  summary: 'One machine and its device timeline',
  params: z.object({ name: z.string().max(255) }),
  query: Query,
  async handle({ store }, { params, query }) {
    const m = await machineByName(store, params.name);
    if (!m) return { kind: 'not-found', title: 'Machine not found', message: `No machine named ${params.name}.`, nav: 'inventory' };
    const from = fromLocalInput(query.from);
    const to = fromLocalInput(query.to);
    const filters = { table: query.table, action: query.action, from: query.from, to: query.to };
    const [page, active, inProgress, selected] = await Promise.all([
      timelinePage(store, { agentId: m.agentId, table: query.table, actionType: query.action, from, to, before: parseCursor(query.before), limit: PORTAL_LIMITS.timelinePageSize }),
      store.alerts.pageAlerts({ resourceId: m.resourceId, status: 'Active', sort: 'severity', dir: 'desc', offset: 0, limit: PORTAL_LIMITS.pageSize }),
      store.alerts.pageAlerts({ resourceId: m.resourceId, status: 'InProgress', sort: 'severity', dir: 'desc', offset: 0, limit: PORTAL_LIMITS.pageSize }),
      query.event ? timelineEvent(store, m.agentId, query.event) : Promise.resolve(undefined),
    ]);
    const procTree = selected ? await processTree(store, m.agentId, selected) : undefined;
    const path = `/portal/machines/${encodeURIComponent(m.name)}`;
    const here = `${path}${queryString({ ...filters, before: query.before }) || '?'}`;
    const open: AlertRow[] = [...active.rows, ...inProgress.rows];
    const f = m.facts;
    const rows = page.events.map((e) => {
      const r = e as unknown as Record<string, unknown>;
      const sel = e.ReportId === selected?.ReportId;
      return html`<tr${sel ? html` class="selected" aria-selected="true"` : ''}><td>${isoTime(Date.parse(e.Timestamp))}</td><td>${e.Table}</td><td>${String(r.ActionType ?? '')}</td>
<td><a href="${here}&event=${e.ReportId}"${hxSwap('timeline')}>${eventSummary(e)}</a></td></tr>`;
    });
    const timeline = html`<div id="timeline" class="split"><div class="table-wrap"><table id="timeline-table"><caption>Events, newest first${query.before ? ' (older page)' : ''}</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Table</th><th scope="col">Action type</th><th scope="col">Event</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="4">${emptyState('No event matches these filters.')}</td></tr>`}</tbody></table>
<nav class="pager" aria-label="Timeline pages">${query.before ? html`<a href="${path}${queryString(filters)}"${hxSwap('timeline')}>↑ Newest</a> · ` : ''}${page.older ? html`<a rel="next" href="${path}${queryString({ ...filters, before: page.older })}"${hxSwap('timeline')}>Older events →</a>` : html`<span class="muted">No older events</span>`}</nav></div>
${detailPane(selected, procTree, here)}</div>`;
    return {
      kind: 'page', title: m.name, nav: 'inventory',
      body: html`<p>${badge(m.status)} · ${f.osSku ?? f.osName} · ${f.cloudMetadata.provider === 'N/A' ? 'On-premises' : f.cloudMetadata.provider} · <a href="/portal/inventory?q=${encodeURIComponent(m.name)}">in the inventory</a></p>
<div class="grid">
${section('Facts', facts([
  ['Resource id', html`<code>${m.resourceId}</code>`],
  ['Arc status', badge(m.status)],
  ['Last heartbeat (UTC)', isoTime(m.lastHeartbeat)],
  ['Status changed (UTC)', isoTime(m.lastStatusChange)],
  ['Registered (UTC)', isoTime(m.registeredAt)],
  ['Host name', f.machineFqdn ?? f.hostname],
  ['Operating system', `${f.osName} ${f.osVersion ?? ''}`.trim()],
  ['Cloud', f.cloudMetadata.provider],
  ['VM UUID', f.vmUuid ?? ''],
  ['Cores / memory', `${f.detectedProperties.logicalCoreCount} cores, ${f.detectedProperties.totalPhysicalMemoryInGigabytes} GB`],
  ['Agent id', html`<code>${m.agentId}</code>`],
  ['Tags', Object.entries(m.tags ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')],
], 'machine-facts'), 'facts')}
${section('Extensions', m.extensions.length ? html`<table><caption class="muted">Arc extensions</caption><thead><tr><th scope="col">Extension</th><th scope="col">Publisher</th><th scope="col">Status</th></tr></thead><tbody>${m.extensions.map((e) => html`<tr><td>${e.name}</td><td>${e.publisher ?? ''}</td><td>${badge(e.status)}</td></tr>`)}</tbody></table>` : emptyState('No extension installed.'), 'extensions')}
${section('SQL instances', m.sqlInstances.length ? html`<table><caption class="muted">Discovered SQL instances</caption><thead><tr><th scope="col">Instance</th><th scope="col">Engine</th><th scope="col">Version</th><th scope="col">Edition</th></tr></thead><tbody>${m.sqlInstances.map((s) => html`<tr><td>${s.instanceName}</td><td>${s.engine}</td><td>${s.version ?? ''}</td><td>${s.edition ?? ''}</td></tr>`)}</tbody></table>` : emptyState('No SQL instance discovered.'), 'sql-instances')}
</div>
${section(`Open alerts (${active.total + inProgress.total})`, dataTable({ id: 'machine-alerts', caption: 'Active and in-progress alerts', path, params: {}, columns: ALERT_COLUMNS.map((c) => ({ ...c, sortable: false })), rows: open, state: { page: 1, pageSize: Math.max(1, open.length), total: open.length }, empty: emptyState('No open alert on this machine.') }), 'open-alerts')}
<section class="card" aria-labelledby="timeline-h"><h2 id="timeline-h">Device timeline</h2>
${filterBar({
  path, target: 'timeline', label: 'Filter the timeline',
  filters: [
    { kind: 'select', name: 'table', label: 'Table', value: query.table, options: TABLE_NAMES.map((t) => ({ value: t })) },
    { kind: 'search', name: 'action', label: 'Action type', value: query.action, placeholder: 'e.g. ProcessCreated' },
    { kind: 'datetime', name: 'from', label: 'From (UTC)', value: toLocalInput(from) },
    { kind: 'datetime', name: 'to', label: 'To (UTC)', value: toLocalInput(to) },
  ],
})}
${timeline}</section>`,
    };
  },
});
