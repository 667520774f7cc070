import { z } from 'zod';
import type { RunResult } from '../../../protocol/index.ts';
import { badge } from '../components/badges.ts';
import { emptyState } from '../components/empty.ts';
import { facts, section, tiles } from '../components/facts.ts';
import { duration, isoTime } from '../components/format.ts';
import { html, type Html } from '../html.ts';
import { compareRuns, latencies, percentile, runList, runResult } from '../data/runs.ts';
import { matrixTable } from '../components/run-matrix.ts';
import { definePage, type PageOutcome } from '../page.ts';

const Query = z.object({
  download: z.enum(['junit', 'navigator', 'report']).optional().catch(undefined),
  compare: z.string().max(128).optional().catch(undefined),
});

function comparison(base: RunResult, other: RunResult): Html {
  const rows = compareRuns(base, other);
  const changed = rows.filter((c) => c.changed);
  return html`<p id="comparison-summary">${changed.length} of ${rows.length} cells differ between <a href="/portal/runs/${base.runId}">${base.runId}</a> and <a href="/portal/runs/${other.runId}">${other.runId}</a>.</p>
<div class="table-wrap"><table id="comparison"><caption>Cells, this run → the other</caption><thead><tr><th scope="col">Row</th><th scope="col">Host</th><th scope="col">This run</th><th scope="col">Other run</th><th scope="col">Alerts only here</th><th scope="col">Alerts only there</th></tr></thead>
<tbody>${rows.map((c) => html`<tr${c.changed ? html` class="selected"` : ''}><td>${c.rowId}</td><td>${c.host}</td><td>${badge(c.before?.status)}</td><td>${badge(c.after?.status)}</td><td>${c.lost.join(', ')}</td><td>${c.gained.join(', ')}</td></tr>`)}</tbody></table></div>`;
}

/**
 * One test run: the pass/fail matrix, alert latencies, ATT&CK coverage, the report downloads
 * (JUnit, ATT&CK Navigator layer, Markdown report: the same renderers as `arcsim run`) and the
 * comparison with another stored run of the same suite (the suite run again; `arcsim run replay`
 * prints its own comparison and stores nothing).
 */
export default definePage({
  path: '/portal/runs/{id}',
  summary: 'One test run: matrix, latencies, ATT&CK coverage, downloads, comparison',
  params: z.object({ id: z.string().max(128) }),
  query: Query,
  async handle({ store, reports }, { params, query }): Promise<PageOutcome> {
    const r = await runResult(store, params.id);
    if (!r) return { kind: 'not-found', title: 'Test run not found', message: `No test run ${params.id}.`, nav: 'runs' };
    if (query.download && reports) {
      if (query.download === 'junit') return { kind: 'file', filename: `${r.runId}.junit.xml`, contentType: 'application/xml; charset=utf-8', body: reports.junit(r) };
      if (query.download === 'navigator') return { kind: 'file', filename: `${r.runId}.navigator.json`, contentType: 'application/json; charset=utf-8', body: JSON.stringify(reports.navigator(r), null, 2) };
      return { kind: 'file', filename: `${r.runId}.md`, contentType: 'text/markdown; charset=utf-8', body: reports.markdown(r) };
    }
    const others = (await runList(store, 200)).filter((o) => o.runId !== r.runId && o.suiteName === r.suite.name);
    const other = query.compare ? await runResult(store, query.compare) : undefined;
    const lat = latencies(r);
    const ms = lat.map((l) => l.latencyMs);
    const missed = r.coverage.exercised.filter((t) => !r.coverage.detected.includes(t));
    const downloads = reports
      ? html`<ul class="plain" id="downloads"><li><a href="/portal/runs/${r.runId}?download=junit" download>JUnit XML</a></li><li><a href="/portal/runs/${r.runId}?download=navigator" download>ATT&amp;CK Navigator layer</a></li><li><a href="/portal/runs/${r.runId}?download=report" download>Markdown report</a></li><li><a href="/api/runs/${r.runId}/bundle">Replay bundle (JSON)</a></li></ul>`
      : html`<p class="muted">Report downloads are offered when the control plane runs with its report renderers (arcsim control-plane, arcsim lab).</p><p><a href="/api/runs/${r.runId}/bundle">Replay bundle (JSON)</a></p>`;
    return {
      kind: 'page', title: `Test run ${r.runId}`, nav: 'runs',
      body: html`${tiles([
        { label: 'Result', value: badge(r.ok ? 'pass' : 'fail'), id: 'run-result' },
        { label: 'Cells passed', value: `${r.summary.pass}/${r.summary.cells}` },
        { label: 'Failed', value: r.summary.fail },
        { label: 'Not run / not checked', value: `${r.summary.notRun} / ${r.summary.notChecked}` },
        { label: 'Alert latency p50 / p95', value: ms.length ? `${duration(percentile(ms, 50))} / ${duration(percentile(ms, 95))}` : '—' },
      ])}
${facts([['Suite', r.suite.name], ['Started (UTC)', isoTime(Date.parse(r.startedAt))], ['Duration', duration(r.durationMs)], ['Sync profile', r.syncProfile ?? ''], ['Hosts', r.hosts.map((h) => h.column).join(', ')]], 'run-facts')}
${section('Matrix', matrixTable(r, 'run-matrix'), 'matrix')}
<div class="grid">
${section('Downloads', downloads, 'run-downloads')}
${section('ATT&CK coverage', html`<p id="coverage-summary">${r.coverage.detected.length} of ${r.coverage.exercised.length} exercised techniques detected.</p>
<table><caption class="muted">Techniques exercised by the attack runs</caption><thead><tr><th scope="col">Technique</th><th scope="col">Detected</th></tr></thead><tbody>${[...new Set([...r.coverage.exercised, ...r.coverage.detected])].sort().map((t) => html`<tr><td>${t}</td><td>${badge(r.coverage.detected.includes(t) ? 'pass' : 'fail')}</td></tr>`)}</tbody></table>
${missed.length ? html`<p>Not detected: ${missed.join(', ')}</p>` : ''}`, 'coverage')}
</div>
${section('Alert latencies', lat.length ? html`<div class="table-wrap"><table id="latencies"><caption class="muted">Event arrival to alert committed, slowest first</caption><thead><tr><th scope="col">Row</th><th scope="col">Host</th><th scope="col">Alert type</th><th scope="col" class="num">Latency</th></tr></thead><tbody>${lat.map((l) => html`<tr><td>${l.cell.rowId}</td><td>${l.cell.host}</td><td>${l.alertType}</td><td class="num">${duration(l.latencyMs)}</td></tr>`)}</tbody></table></div>` : emptyState('No alert latency recorded.'), 'latency')}
${section('Compare with another run', html`${others.length
  ? html`<form method="get" action="/portal/runs/${r.runId}" class="filters"><label for="compare-run">Run of the same suite</label><select id="compare-run" name="compare">${others.map((o) => html`<option value="${o.runId}"${o.runId === query.compare ? html` selected` : ''}>${o.runId} (${isoTime(o.startedAt)})</option>`)}</select><button>Compare</button></form>`
  : emptyState('No other run of this suite is stored.', 'Run the suite again (arcsim run, which stores its result here) to compare.')}
${query.compare ? (other ? comparison(r, other) : html`<p class="tone-bad">No test run ${query.compare}.</p>`) : ''}`, 'compare')}`,
    };
  },
});
