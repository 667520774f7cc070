import { html } from '../html.ts';
import { tiles } from '../components/facts.ts';
import { definePage } from '../page.ts';

/** The Arc security dashboard. */
export default definePage({
  path: '/portal',
  summary: 'Portal overview: the Arc security dashboard',
  async handle({ store }) {
    const [counts, machines] = await Promise.all([store.alerts.alertCounts(), store.machines.listMachines()]);
    const alerts = counts.reduce((n, c) => n + c.count, 0);
    return { kind: 'page', title: 'Overview', nav: 'overview', body: html`${tiles([{ label: 'Machines', value: machines.length, href: '/portal/inventory' }, { label: 'Alerts', value: alerts, href: '/portal/alerts' }])}` };
  },
});
