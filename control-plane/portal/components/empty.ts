import { html, type Html } from '../html.ts';

/** What a list shows when it has nothing to show, with a hint of why or what to do. */
export function emptyState(message: string, hint?: Html | string): Html {
  return html`<div class="empty" role="status"><p>${message}</p>${hint ? html`<p class="muted">${hint}</p>` : ''}</div>`;
}
