import type { AlertSeverity } from '../../store/index.ts';
import { badge, severityBadge, statusBadge } from '../components/badges.ts';
import { timeChart } from '../components/chart.ts';
import { emptyState } from '../components/empty.ts';
import { section, tiles } from '../components/facts.ts';
import { isoTime } from '../components/format.ts';
import { html } from '../html.ts';
import { inventoryView } from '../data/inventory.ts';
import { PORTAL_LIMITS } from '../data/paging.ts';
import { plansOn, posture } from '../data/posture.ts';
import { definePage } from '../page.ts';

const SEVERITIES: AlertSeverity[] = ['High', 'Medium', 'Low', 'Informational'];
const COLORS: Record<AlertSeverity, string> = { High: '#a40e26', Medium: '#b35900', Low: '#0b5cad', Informational: '#595959' };

function countBy<T>(items: T[], key: (x: T) => string): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const x of items) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return [...m].sort(([a], [b]) => a.localeCompare(b));
}

/**
 * The Arc security dashboard: machines by Arc status and cloud, the plans on, recommendations by
 * severity, secure score, alerts by severity over the last days (chart), recent incidents.
 */
export default definePage({
  path: '/portal',
  summary: 'Portal overview: the Arc security dashboard',
  async handle({ store, clock }) {
    const now = clock.now();
    const bucket = PORTAL_LIMITS.chartBucketMs;
    const from = Math.floor(now / bucket) * bucket - (PORTAL_LIMITS.chartDays - 1) * bucket;
    const [assets, plans, { recommendations, scores }, counts, overTime, incidents] = await Promise.all([
      inventoryView(store), plansOn(store), posture(store), store.alerts.alertCounts(), store.alerts.alertCountsOverTime(from, bucket),
      store.incidents.recentIncidents(PORTAL_LIMITS.recentIncidents),
    ]);
    const machines = assets.filter((a) => a.arcStatus !== null);
    const openAlerts = counts.filter((c) => c.status === 'Active' || c.status === 'InProgress').reduce((n, c) => n + c.count, 0);
    const x = Array.from({ length: PORTAL_LIMITS.chartDays }, (_, i) => (from + i * bucket) / 1000);
    const series = SEVERITIES.map((s) => ({
      label: s, color: COLORS[s],
      values: x.map((t) => overTime.filter((o) => o.severity === s && o.bucket === t * 1000).reduce((n, o) => n + o.count, 0)),
    }));
    const recBySeverity = (['High', 'Medium', 'Low'] as const).map((s) => ({ s, n: recommendations.filter((r) => r.severity === s && r.unhealthyCount > 0).length }));
    return {
      kind: 'page', title: 'Overview', nav: 'overview',
      body: html`${tiles([
        { label: 'Assets', value: assets.length, href: '/portal/inventory', id: 'tile-assets' },
        { label: 'Arc machines', value: machines.length, href: '/portal/inventory?source=Arc', id: 'tile-machines' },
        { label: 'Open alerts', value: openAlerts, href: '/portal/alerts?status=Active', id: 'tile-alerts' },
        ...scores.map((s) => ({ label: `Secure score · ${s.subscription}`, value: `${s.score}%`, href: '/portal/recommendations', id: `score-${s.subscription}` })),
      ])}
<div class="grid">
${section('Machines by Arc status', countBy(machines, (m) => m.arcStatus!).length
  ? html`<table><caption class="muted">Arc-connected machines</caption><thead><tr><th scope="col">Status</th><th scope="col" class="num">Machines</th></tr></thead><tbody>${countBy(machines, (m) => m.arcStatus!).map(([k, n]) => html`<tr><td>${badge(k)}</td><td class="num"><a href="/portal/inventory?arc=${k}">${n}</a></td></tr>`)}</tbody></table>`
  : emptyState('No Arc machine yet.'), 'by-arc-status')}
${section('Assets by cloud', html`<table><caption class="muted">Merged assets</caption><thead><tr><th scope="col">Cloud</th><th scope="col" class="num">Assets</th></tr></thead><tbody>${countBy(assets.flatMap((a) => a.clouds.map((c) => ({ c }))), (v) => v.c).map(([k, n]) => html`<tr><td>${k}</td><td class="num"><a href="/portal/inventory?cloud=${encodeURIComponent(k)}">${n}</a></td></tr>`)}</tbody></table>`, 'by-cloud')}
${section('Defender plans on', plans.length ? html`<ul class="plain" id="plans-on">${plans.map((p) => html`<li>${p.plan}${p.subPlan ? ` (${p.subPlan})` : ''} · <span class="muted">${p.scope}</span></li>`)}</ul>` : emptyState('No plan is on.'), 'plans')}
${section('Recommendations by severity', html`<table><caption class="muted">Recommendations with unhealthy resources</caption><thead><tr><th scope="col">Severity</th><th scope="col" class="num">Recommendations</th></tr></thead><tbody>${recBySeverity.map((r) => html`<tr><td>${severityBadge(r.s)}</td><td class="num"><a href="/portal/recommendations?severity=${r.s}">${r.n}</a></td></tr>`)}</tbody></table>`, 'recommendations-by-severity')}
</div>
${section('Alerts by severity', timeChart({ id: 'alerts-chart', title: `Alerts by severity, last ${PORTAL_LIMITS.chartDays} days (UTC, by day generated)`, x, series, bucketLabel: (t) => isoTime(t * 1000).slice(0, 10) }), 'alerts-over-time')}
${section('Recent incidents', incidents.length
  ? html`<table><caption class="muted">Latest activity first</caption><thead><tr><th scope="col">Incident</th><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Last activity (UTC)</th></tr></thead><tbody>${incidents.map((i) => html`<tr><td><a href="/portal/incidents/${i.incidentId}">${i.title}</a></td><td>${severityBadge(i.severity)}</td><td>${statusBadge(i.status)}</td><td>${isoTime(i.lastActivity)}</td></tr>`)}</tbody></table>`
  : emptyState('No incident.'), 'recent-incidents')}`,
    };
  },
});
