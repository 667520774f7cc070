import { html, type Html } from '../html.ts';
import { statusBadge } from './badges.ts';

/**
 * A status the live feed keeps current: `data-live-status="<subject>:<id>:<product>"`, which
 * scripts/live.js matches against the feed's `status` events (server-sent, /portal/live).
 */
export function liveStatus(subject: 'alert' | 'incident', id: string, product: string, status: string): Html {
  return html`<span class="live-status" data-live-status="${subject}:${id}:${product}">${statusBadge(status)}</span>`;
}

/** The live feed's script and the polite region where it announces new alerts. */
export function liveScript(): Html {
  return html`<section id="live-updates" class="card live" aria-live="polite" aria-label="Live updates" hidden><h2>New alerts</h2><ul class="plain"></ul></section>
<link rel="stylesheet" href="/portal/scripts/portal-b.css"><script src="/portal/scripts/live.js" defer></script>`;
}
