import { z } from 'zod';
import { badge } from '../components/badges.ts';
import { emptyState } from '../components/empty.ts';
import { duration, isoTime } from '../components/format.ts';
import { dataTable } from '../components/table.ts';
import { html } from '../html.ts';
import { runList, runPage, runResult } from '../data/runs.ts';
import { section } from '../components/facts.ts';
import { matrixTable } from '../components/run-matrix.ts';
import { offsetOf, PageParam, PORTAL_LIMITS } from '../data/paging.ts';
import { definePage } from '../page.ts';

/** Test runs: every stored multi-cloud run, newest first, with its pass/fail summary, and the newest run's matrix. */
export default definePage({
  path: '/portal/runs',
  summary: 'Test runs',
  query: z.object({ page: PageParam }),
  async handle({ store }, { query }) {
    const size = PORTAL_LIMITS.pageSize;
    const { rows, total } = await runPage(store, { offset: offsetOf(query.page, size), limit: size });
    type Run = (typeof rows)[number];
    const n = (r: Run, k: string) => Number((r.summary as Record<string, unknown>)[k] ?? 0);
    // The newest run is the first row of page 1; on a later page, one more indexed read.
    const [latest] = query.page === 1 ? rows : await runList(store, 1);
    const newest = latest && await runResult(store, latest.runId);
    return {
      kind: 'page', title: 'Test runs', nav: 'runs',
      body: html`${dataTable<Run>({
        id: 'runs-table', caption: `${total} stored runs`, path: '/portal/runs', params: {}, rows,
        state: { page: query.page, pageSize: size, total },
        columns: [
          { key: 'run', label: 'Run', cell: (r) => html`<a href="/portal/runs/${r.runId}">${r.runId}</a>` },
          { key: 'suite', label: 'Suite', cell: (r) => r.suiteName },
          { key: 'result', label: 'Result', cell: (r) => badge(r.ok ? 'pass' : 'fail') },
          { key: 'cells', label: 'Cells passed', numeric: true, cell: (r) => `${n(r, 'pass')}/${n(r, 'cells')}` },
          { key: 'started', label: 'Started (UTC)', cell: (r) => isoTime(r.startedAt) },
          { key: 'duration', label: 'Duration', numeric: true, cell: (r) => duration(r.finishedAt - r.startedAt) },
        ],
        empty: emptyState('No test run stored yet.', html`<code>arcsim run examples/multi-cloud.yaml</code> or <code>arcsim lab</code> stores one.`),
      })}
${newest ? section('Newest run', html`<p><a href="/portal/runs/${newest.runId}">${newest.runId}</a> · ${newest.suite.name} · ${isoTime(Date.parse(newest.startedAt))}</p>${matrixTable(newest, 'latest-matrix')}`, 'latest-run') : ''}`,
    };
  },
});
