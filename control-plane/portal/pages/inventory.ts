import { z } from 'zod';
import { badge } from '../components/badges.ts';
import { filterBar } from '../components/filter-bar.ts';
import { dataTable, type Column } from '../components/table.ts';
import { emptyState } from '../components/empty.ts';
import { html } from '../html.ts';
import { inventoryPage, type AssetView } from '../data/inventory.ts';
import { ChoiceParam, offsetOf, PageParam, PORTAL_LIMITS, TextParam } from '../data/paging.ts';
import { definePage } from '../page.ts';

const Query = z.object({
  source: ChoiceParam(['Arc', 'AWS', 'GCP']),
  cloud: ChoiceParam(['AWS', 'GCP', 'Azure', 'On-premises']),
  arc: ChoiceParam(['Connected', 'Disconnected', 'Expired', 'Error', 'none']),
  confidence: ChoiceParam(['strong', 'probable', 'single']),
  q: TextParam,
  sort: z.enum(['name', 'confidence', 'arcStatus', 'cloud', 'sources']).catch('name').default('name'),
  dir: z.enum(['asc', 'desc']).catch('asc').default('asc'),
  page: PageParam,
});

const list = <T>(items: T[], f: (x: T) => unknown) => (items.length ? html`<ul class="plain">${items.map((x) => html`<li>${f(x) as string}</li>`)}</ul>` : html`<span class="muted">—</span>`);

const COLUMNS: Array<Column<AssetView>> = [
  { key: 'name', label: 'Asset', sortable: true, cell: (a) => (a.machine ? html`<a href="/portal/machines/${encodeURIComponent(a.machine)}">${a.name}</a>` : html`${a.name}`) },
  { key: 'sources', label: 'Sources', sortable: true, cell: (a) => list(a.sources, (s) => html`${badge(s.kind)} <span title="${s.resourceId}">${s.name}</span>`) },
  { key: 'confidence', label: 'Merge confidence', sortable: true, cell: (a) => html`${badge(a.confidence)}${a.reasons.length ? html`<br><span class="muted">${a.reasons.join('; ')}</span>` : ''}` },
  { key: 'cloud', label: 'Cloud', sortable: true, cell: (a) => a.clouds.join(', ') },
  { key: 'arcStatus', label: 'Arc status', sortable: true, cell: (a) => (a.arcStatus ? badge(a.arcStatus) : html`<span class="muted">not Arc-connected</span>`) },
  { key: 'sql', label: 'SQL instances', cell: (a) => list(a.sqlInstances, (s) => `${s.instanceName} (${s.engine}${s.version ? ` ${s.version}` : ""})`) },
  { key: 'extensions', label: 'Extensions', cell: (a) => list(a.extensions, (e) => html`${e.name} ${badge(e.status)}`) },
  { key: 'plans', label: 'Plans', cell: (a) => list(a.plans, (p) => `${p.displayName}${p.subPlan ? ` ${p.subPlan}` : ''}`) },
  { key: 'conflicts', label: 'Conflicts', cell: (a) => list(a.conflicts, (c) => html`<span class="tone-bad">${c.kind}</span>: ${c.message}`) },
];

/** Inventory: every real machine once, with the records of each source (Arc, AWS, GCP) merged. */
export default definePage({
  path: '/portal/inventory',
  summary: 'Inventory: merged assets and their sources',
  query: Query,
  async handle({ store }, { query }) {
    const size = PORTAL_LIMITS.pageSize;
    const { rows: page, total, all } = await inventoryPage(store,
      { source: query.source, cloud: query.cloud, arcStatus: query.arc, confidence: query.confidence, search: query.q, sort: query.sort, dir: query.dir },
      { offset: offsetOf(query.page, size), limit: size });
    const params = { source: query.source, cloud: query.cloud, arc: query.arc, confidence: query.confidence, q: query.q };
    return {
      kind: 'page', title: 'Inventory', nav: 'inventory',
      body: html`${filterBar({
        path: '/portal/inventory', target: 'inventory-table', label: 'Filter assets',
        filters: [
          { kind: 'select', name: 'source', label: 'Source', value: query.source, options: [{ value: 'Arc' }, { value: 'AWS' }, { value: 'GCP' }] },
          { kind: 'select', name: 'cloud', label: 'Cloud', value: query.cloud, options: [{ value: 'AWS' }, { value: 'GCP' }, { value: 'Azure' }, { value: 'On-premises' }] },
          { kind: 'select', name: 'arc', label: 'Arc status', value: query.arc, options: [{ value: 'Connected' }, { value: 'Disconnected' }, { value: 'Expired' }, { value: 'Error' }, { value: 'none', label: 'Not Arc-connected' }] },
          { kind: 'select', name: 'confidence', label: 'Merge confidence', value: query.confidence, options: [{ value: 'strong' }, { value: 'probable' }, { value: 'single' }] },
          { kind: 'search', name: 'q', label: 'Search', value: query.q, placeholder: 'name or resource id' },
        ],
      })}
${dataTable({
  id: 'inventory-table', caption: `${total} of ${all} assets`, path: '/portal/inventory', params, columns: COLUMNS, rows: page,
  state: { sort: query.sort, dir: query.dir, page: query.page, pageSize: size, total }, rowId: (a) => a.assetId,
  empty: emptyState(all ? 'No asset matches these filters.' : 'No asset yet.', all ? undefined : 'Enroll an agent or add a CSPM connector (arcsim lab does both).'),
})}`,
    };
  },
});
