import { z } from 'zod';
import { severityBadge } from '../components/badges.ts';
import { emptyState } from '../components/empty.ts';
import { filterBar } from '../components/filter-bar.ts';
import { section, tiles } from '../components/facts.ts';
import { isoTime } from '../components/format.ts';
import { pager } from '../components/table.ts';
import { html, queryString, type Html } from '../html.ts';
import { ChoiceParam, offsetOf, PageParam, PORTAL_LIMITS } from '../data/paging.ts';
import { fillAffected, posture, type RecommendationView } from '../data/posture.ts';
import { definePage } from '../page.ts';

/** A recommendation's affected resources: one page of them (pageSize), paged within the recommendation (`rec`, `page`). */
function affected(r: RecommendationView, page: number, params: Record<string, string | undefined>): Html {
  const id = `affected-${r.key}`;
  const size = PORTAL_LIMITS.pageSize;
  const more = r.unhealthyCount > size
    ? pager({ id, state: { page, pageSize: size, total: r.unhealthyCount }, link: (extra) => `/portal/recommendations${queryString({ ...params, rec: r.key, page: extra.page })}` })
    : '';
  return html`<details${page > 1 ? ' open' : ''}><summary>${r.unhealthyCount} resources</summary><div id="${id}"><ul class="plain">${r.unhealthy.map((a) => html`<li><a href="/portal/inventory?q=${encodeURIComponent(a.resourceId.split('/').at(-1) ?? '')}"><code>${a.resourceId}</code></a> <span class="muted">since ${isoTime(a.statusChanged)}</span></li>`)}</ul>${more}</div></details>`;
}

/** Recommendations (MDC): secure score per subscription, each recommendation with its affected resources. */
export default definePage({
  path: '/portal/recommendations',
  summary: 'Recommendations, secure score and affected resources',
  query: z.object({
    severity: ChoiceParam(['High', 'Medium', 'Low']),
    state: z.enum(['unhealthy', 'all']).catch('unhealthy').default('unhealthy'),
    /** The recommendation whose affected resources are paged (`page`); the others show their first page. */
    rec: z.string().max(100).optional().catch(undefined),
    page: PageParam,
  }),
  async handle({ store }, { query }) {
    const { recommendations, scores } = await posture(store);
    const shown = recommendations.filter((r) => (!query.severity || r.severity === query.severity) && (query.state === 'all' || r.unhealthyCount > 0));
    const size = PORTAL_LIMITS.pageSize;
    const paged = shown.find((r) => r.key === query.rec);
    const pageOf = (r: RecommendationView) => (r === paged ? query.page : 1);
    await Promise.all([
      fillAffected(store, shown.filter((r) => r !== paged), { offset: 0, limit: size }),
      paged ? fillAffected(store, [paged], { offset: offsetOf(query.page, size), limit: size }) : undefined,
    ]);
    const params = { severity: query.severity, state: query.state === 'unhealthy' ? undefined : query.state };
    return {
      kind: 'page', title: 'Recommendations', nav: 'recommendations',
      body: html`${section('Secure score', scores.length
        ? tiles(scores.map((s) => ({ label: `${s.subscription}: ${s.unhealthy} unhealthy of ${s.recommendations} recommendations (${s.current} of ${s.max} points)`, value: `${s.score}%`, id: `secure-score-${s.subscription}` })))
        : emptyState('No assessment yet: the secure score appears once resources are assessed.'), 'secure-score')}
${filterBar({
  path: '/portal/recommendations', target: 'recommendations', label: 'Filter recommendations',
  filters: [
    { kind: 'select', name: 'severity', label: 'Severity', value: query.severity, options: [{ value: 'High' }, { value: 'Medium' }, { value: 'Low' }] },
    { kind: 'select', name: 'state', label: 'Show', value: query.state, options: [{ value: 'unhealthy', label: 'With unhealthy resources' }, { value: 'all', label: 'All' }] },
  ],
})}
<div id="recommendations">${shown.length ? html`<div class="table-wrap"><table><caption>${shown.length} recommendations</caption><thead><tr><th scope="col">Recommendation</th><th scope="col">Severity</th><th scope="col" class="num">Unhealthy</th><th scope="col" class="num">Healthy</th><th scope="col">Affected resources</th></tr></thead>
<tbody>${shown.map((r) => html`<tr data-key="${r.key}"><td><b>${r.displayName}</b><br><span class="muted">${r.remediation}</span></td><td>${severityBadge(r.severity)}</td><td class="num">${r.unhealthyCount}</td><td class="num">${r.healthy}</td>
<td>${r.unhealthyCount ? affected(r, pageOf(r), params) : html`<span class="muted">none</span>`}</td></tr>`)}</tbody></table></div>`
  : emptyState('No recommendation matches.')}</div>`,
    };
  },
});
