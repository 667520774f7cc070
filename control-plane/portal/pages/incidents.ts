import { html } from '../html.ts';
import { severityBadge, statusBadge } from '../components/badges.ts';
import { isoTime } from '../components/format.ts';
import { definePage } from '../page.ts';

/** The incident list (portal-b: M365D queue with filters and paging). */
export default definePage({
  path: '/portal/incidents',
  summary: 'Incidents page',
  async handle({ store }) {
    const incidents = await store.incidents.listIncidents();
    return {
      kind: 'page', title: 'Incidents', nav: 'incidents',
      body: html`<table><caption>${incidents.length} incidents</caption><thead><tr><th scope="col">Incident</th><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Last activity (UTC)</th><th scope="col">Redirected</th></tr></thead><tbody>
${incidents.map((i) => html`<tr><td><a href="/portal/incidents/${i.incidentId}">${i.title}</a></td><td>${severityBadge(i.severity)}</td><td>${statusBadge(i.status)}</td><td>${isoTime(i.lastActivity)}</td><td>${i.redirectedTo ? html`redirected to ${i.redirectedTo}` : ''}</td></tr>`)}
</tbody></table>`,
    };
  },
});
