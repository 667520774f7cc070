import { html, type Html } from '../html.ts';
import { hxSwap } from './table.ts';

export type Filter =
  | { kind: 'select'; name: string; label: string; value: string | undefined; options: Array<{ value: string; label?: string }> }
  | { kind: 'search'; name: string; label: string; value: string | undefined; placeholder?: string }
  | { kind: 'datetime'; name: string; label: string; value: string | undefined };

/**
 * A GET form of filters over a list: each control labelled, "Any" as the empty choice. Submitting
 * reloads the page with the filters in the query string (so the URL can be shared); with htmx it
 * swaps only `#target`. Changing a filter resets paging (no `page` field).
 */
export function filterBar(o: { path: string; target: string; filters: Filter[]; hidden?: Record<string, string | undefined>; label?: string }): Html {
  const controls = o.filters.map((f) => {
    const id = `f-${f.name}`;
    if (f.kind === 'select') {
      return html`<label for="${id}">${f.label}</label><select id="${id}" name="${f.name}"><option value="">Any</option>${f.options.map((op) => html`<option value="${op.value}"${op.value === f.value ? html` selected` : ''}>${op.label ?? op.value}</option>`)}</select>`;
    }
    if (f.kind === 'datetime') return html`<label for="${id}">${f.label}</label><input id="${id}" type="datetime-local" name="${f.name}" value="${f.value ?? ''}" step="1">`;
    return html`<label for="${id}">${f.label}</label><input id="${id}" type="search" name="${f.name}" value="${f.value ?? ''}" placeholder="${f.placeholder ?? ''}" maxlength="200">`;
  });
  const hidden = Object.entries(o.hidden ?? {}).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => html`<input type="hidden" name="${k}" value="${v!}">`);
  return html`<form class="filters" method="get" action="${o.path}" role="search" aria-label="${o.label ?? 'Filters'}" hx-get="${o.path}"${hxSwap(o.target)}>${controls}${hidden}<button type="submit">Apply</button> <a href="${o.path}">Clear</a></form>`;
}
