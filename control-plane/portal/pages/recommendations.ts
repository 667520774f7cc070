import { z } from 'zod';
import { severityBadge } from '../components/badges.ts';
import { emptyState } from '../components/empty.ts';
import { filterBar } from '../components/filter-bar.ts';
import { section, tiles } from '../components/facts.ts';
import { isoTime } from '../components/format.ts';
import { html } from '../html.ts';
import { ChoiceParam } from '../data/paging.ts';
import { posture } from '../data/posture.ts';
import { definePage } from '../page.ts';

/** Recommendations (MDC): secure score per subscription, each recommendation with its affected resources. */
export default definePage({
  path: '/portal/recommendations',
  summary: 'Recommendations, secure score and affected resources',
  query: z.object({ severity: ChoiceParam(['High', 'Medium', 'Low']), state: z.enum(['unhealthy', 'all']).catch('unhealthy').default('unhealthy') }),
  async handle({ store }, { query }) {
    const { recommendations, scores } = await posture(store);
    const shown = recommendations.filter((r) => (!query.severity || r.severity === query.severity) && (query.state === 'all' || r.unhealthy.length > 0));
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
<tbody>${shown.map((r) => html`<tr data-key="${r.key}"><td><b>${r.displayName}</b><br><span class="muted">${r.remediation}</span></td><td>${severityBadge(r.severity)}</td><td class="num">${r.unhealthy.length}</td><td class="num">${r.healthy}</td>
<td>${r.unhealthy.length ? html`<details><summary>${r.unhealthy.length} resources</summary><ul class="plain">${r.unhealthy.map((a) => html`<li><a href="/portal/inventory?q=${encodeURIComponent(a.resourceId.split('/').at(-1) ?? '')}"><code>${a.resourceId}</code></a> <span class="muted">since ${isoTime(a.statusChanged)}</span></li>`)}</ul></details>` : html`<span class="muted">none</span>`}</td></tr>`)}</tbody></table></div>`
  : emptyState('No recommendation matches.')}</div>`,
    };
  },
});
