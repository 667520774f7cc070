import { html, type Html } from '../html.ts';

export interface ChartSeries {
  label: string;
  /** One value per x (the same length as `x`). */
  values: number[];
  /** A CSS colour for the line. */
  color: string;
}

/**
 * A time-series chart: a `<figure>` that assets/portal.js draws with uPlot from its `data-chart`
 * JSON, and a data table inside `<details>` (what screen readers and browsers without scripts get).
 * `x` are epoch seconds.
 */
export function timeChart(o: { id: string; title: string; x: number[]; series: ChartSeries[]; bucketLabel: (x: number) => string }): Html {
  const spec = JSON.stringify({ x: o.x, series: o.series.map((s) => ({ label: s.label, values: s.values, color: s.color })) });
  return html`<figure class="chart" id="${o.id}"><figcaption>${o.title}</figcaption>
<div class="chart-canvas" data-chart="${spec}" role="img" aria-label="${o.title}"></div>
<details><summary>Data table</summary><table><caption>${o.title}</caption><thead><tr><th scope="col">Time</th>${o.series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
<tbody>${o.x.map((x, i) => html`<tr><td>${o.bucketLabel(x)}</td>${o.series.map((s) => html`<td class="num">${s.values[i] ?? 0}</td>`)}</tr>`)}</tbody></table></details></figure>`;
}
