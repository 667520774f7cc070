import { html, type Html, type HtmlValue } from '../html.ts';

/** A definition list of label → value (values may be markup made with `html`). */
export function facts(rows: Array<[string, HtmlValue]>, id?: string): Html {
  return html`<dl class="facts"${id ? html` id="${id}"` : ''}>${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v === undefined || v === null || v === '' ? html`<span class="muted">—</span>` : v}</dd>`)}</dl>`;
}

/** A labelled section with a heading (h2) and its content. */
export function section(title: string, body: Html, id?: string): Html {
  const hid = id ? `${id}-h` : undefined;
  return html`<section class="card"${id ? html` id="${id}"` : ''}${hid ? html` aria-labelledby="${hid}"` : ''}><h2${hid ? html` id="${hid}"` : ''}>${title}</h2>${body}</section>`;
}

/** Tiles of big numbers (the dashboards' counters). */
export function tiles(items: Array<{ label: string; value: HtmlValue; href?: string; id?: string }>): Html {
  return html`<ul class="tiles">${items.map((t) => html`<li${t.id ? html` id="${t.id}"` : ''}><span class="tile-value">${t.href ? html`<a href="${t.href}">${t.value}</a>` : t.value}</span><span class="tile-label">${t.label}</span></li>`)}</ul>`;
}
