import { html, queryString, type Html, type HtmlValue } from '../html.ts';

export interface Column<R> {
  key: string;
  label: string;
  /** The column can be sorted by (the page's query accepts `sort=<key>`). */
  sortable?: boolean;
  cell(row: R): HtmlValue;
  numeric?: boolean;
}

/** Where a table is: its sort, its page and how many rows there are in all. */
export interface TableState {
  sort?: string;
  dir?: 'asc' | 'desc';
  page: number;
  pageSize: number;
  total: number;
}

/** The attributes that make a link or form swap only `#target` with htmx (and still work without it). */
export const hxSwap = (target: string): Html =>
  html` hx-target="#${target}" hx-select="#${target}" hx-swap="outerHTML" hx-push-url="true"`;

/**
 * A table of rows with sortable headers (links that flip the direction, `aria-sort` on the sorted
 * one) and a pager below. Links keep the page's current filters (`params`). With htmx they swap the
 * table only; without it they are ordinary links. The rows are the page's already (the query pages).
 */
export function dataTable<R>(o: {
  id: string;
  caption: string;
  path: string;
  params: Record<string, string | number | undefined>;
  columns: Array<Column<R>>;
  rows: R[];
  state: TableState;
  rowId?: (row: R) => string;
  empty?: Html;
}): Html {
  const { state } = o;
  const link = (extra: Record<string, string | number | undefined>) => `${o.path}${queryString({ ...o.params, sort: state.sort, dir: state.dir, page: state.page, ...extra })}`;
  const head = o.columns.map((c) => {
    if (!c.sortable) return html`<th scope="col">${c.label}</th>`;
    const active = state.sort === c.key;
    const next = active && state.dir === 'asc' ? 'desc' : 'asc';
    const aria = active ? html` aria-sort="${state.dir === 'asc' ? 'ascending' : 'descending'}"` : '';
    const arrow = active ? (state.dir === 'asc' ? ' ▲' : ' ▼') : '';
    return html`<th scope="col"${aria}><a href="${link({ sort: c.key, dir: next, page: 1 })}"${hxSwap(o.id)}>${c.label}${arrow}</a></th>`;
  });
  const body = o.rows.length
    ? o.rows.map((r) => html`<tr${o.rowId ? html` data-id="${o.rowId(r)}"` : ''}>${o.columns.map((c) => html`<td${c.numeric ? html` class="num"` : ''}>${c.cell(r)}</td>`)}</tr>`)
    : html`<tr><td colspan="${o.columns.length}">${o.empty ?? 'Nothing matches.'}</td></tr>`;
  return html`<div id="${o.id}" class="table-wrap"><table><caption>${o.caption}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>
${pager({ id: o.id, state, link })}</div>`;
}

/** "Rows a–b of n" and links to the previous and next page. */
export function pager(o: { id: string; state: TableState; link: (extra: Record<string, string | number | undefined>) => string }): Html {
  const { page, pageSize, total } = o.state;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const first = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(total, page * pageSize);
  const prev = page > 1 ? html`<a rel="prev" href="${o.link({ page: page - 1 })}"${hxSwap(o.id)}>← Previous</a>` : html`<span class="muted">← Previous</span>`;
  const next = page < pages ? html`<a rel="next" href="${o.link({ page: page + 1 })}"${hxSwap(o.id)}>Next →</a>` : html`<span class="muted">Next →</span>`;
  return html`<nav class="pager" aria-label="Pages of ${o.id}"><span class="pager-count">Rows ${first}–${last} of ${total}</span> · page ${page} of ${pages} · ${prev} ${next}</nav>`;
}
