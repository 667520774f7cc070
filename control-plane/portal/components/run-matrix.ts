import type { RunResult } from '../../../protocol/index.ts';
import { matrix } from '../data/runs.ts';
import { html, type Html } from '../html.ts';
import { badge } from './badges.ts';

/** A run's pass/fail matrix: one row per suite row, one column per host, each cell's status and reasons. */
export function matrixTable(r: RunResult, id: string): Html {
  const m = matrix(r);
  return html`<div class="table-wrap"><table class="matrix" id="${id}"><caption>Pass/fail matrix: ${r.summary.pass}/${r.summary.cells} cells passed</caption>
<thead><tr><th scope="col">Row</th>${m.columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
<tbody>${m.rows.map((row) => html`<tr><th scope="row">${row.label}</th>${row.cells.map((c) => html`<td class="cell">${c ? html`${badge(c.status)}${c.reasons.length ? html`<br><span class="muted">${c.reasons.join(', ')}</span>` : ''}` : html`<span class="muted">—</span>`}</td>`)}</tr>`)}</tbody></table></div>`;
}
