import { z } from 'zod';
import { ArcsimError } from '../../../protocol/index.ts';
import { QueryError, queryStore } from '../../query/index.ts';
import { tableSchemas } from '../../query/tables.ts';
import { toJsonValue } from '../../query/values.ts';
import { section } from '../components/facts.ts';
import { html, queryString, type Html } from '../html.ts';
import { definePage } from '../page.ts';

/** Result rows the page shows (the CSV download has them all, up to the query row cap). */
const SHOWN_ROWS = 500;

const Query = z.object({
  query: z.string().max(100_000).optional().catch(undefined),
  run: z.string().max(4).optional().catch(undefined),
  saved: z.string().max(100).optional().catch(undefined),
});

const cellText = (v: unknown): string => {
  const j = toJsonValue(v as never);
  return j === null || j === undefined ? '' : typeof j === 'object' ? JSON.stringify(j) : String(j);
};

/**
 * Advanced hunting: a KQL editor (a textarea that scripts/hunting.js turns into an editor with
 * highlighting and completion from Kusto.Language, through /portal/hunting/classify and
 * /complete), the schema of every table, the result as a table with a CSV download, every error
 * with its line and column, and the signed-in key's saved queries. It works without script: the
 * form runs the query and the page renders the result.
 */
export default definePage({
  path: '/portal/hunting',
  summary: 'Advanced hunting: KQL editor, schema, results, CSV, saved queries',
  query: Query,
  async handle({ store, clock, baseUrl }, { query, viewer }) {
    const text = query.query ?? '';
    let result: Html = html``;
    if (text.trim()) {
      try {
        const started = performance.now();
        const r = await queryStore(text, { store, baseUrl: baseUrl ?? (() => ''), now: () => new Date(clock.now()) });
        const ms = Math.round(performance.now() - started);
        const shown = r.rows.slice(0, SHOWN_ROWS);
        result = html`<p id="result-summary">${r.rows.length} rows${r.truncated ? ' (truncated at the row cap)' : ''} in ${ms} ms${r.rows.length > SHOWN_ROWS ? ` · the first ${SHOWN_ROWS} shown` : ''} ·
<a id="csv-link" href="/portal/hunting/results.csv${queryString({ query: text })}" download>Export CSV</a></p>
<div class="table-wrap" tabindex="0" role="region" aria-label="Query results"><table id="results"><caption>Results</caption><thead><tr>${r.columns.map((c) => html`<th scope="col">${c.name}</th>`)}</tr></thead>
<tbody>${shown.map((row) => html`<tr>${r.columns.map((c) => html`<td>${cellText(row[c.name] ?? null)}</td>`)}</tr>`)}</tbody></table></div>`;
      } catch (err) {
        if (!(err instanceof ArcsimError)) throw err;
        const errors = err instanceof QueryError ? err.errors : [{ line: 1, column: 1, message: err.message, code: err.code }];
        result = html`<div id="query-errors" class="card" role="alert"><h2>The query has errors</h2><ul>${errors.map((e) => html`<li><a href="#query" data-line="${e.line}" data-column="${e.column}">Line ${e.line}, column ${e.column}</a>: ${e.message} <span class="muted">(${e.code})</span></li>`)}</ul></div>`;
      }
    }
    const saved = await store.portal.listQueries(viewer.name);
    const csrf = viewer.csrf ?? '';
    const schema = tableSchemas();
    return {
      kind: 'page', title: 'Advanced hunting', nav: 'hunting',
      body: html`<div class="split"><div>
<form id="hunting-form" method="get" action="/portal/hunting" aria-label="Query">
<label for="query">KQL query</label>
<div class="editor"><pre id="query-highlight" class="editor-layer" aria-hidden="true"></pre><textarea id="query" name="query" rows="10" spellcheck="false" autocomplete="off" autocapitalize="off" class="editor-input" aria-describedby="editor-help">${text}</textarea>
<ul id="completions" role="listbox" aria-label="Completions" hidden></ul></div>
<p id="editor-help" class="muted">Ctrl+Space lists completions; Ctrl+Enter runs the query.</p>
<input type="hidden" name="run" value="1"><button type="submit" id="run">Run query</button>
</form>
${query.saved ? html`<p id="saved-notice" role="status">Saved as “${query.saved}”.</p>` : ''}
<div id="hunting-result">${result}</div>
${section('Save this query', html`<form method="post" action="/portal/hunting/saved" id="save-form"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="query" value="${text}" id="save-query"><label for="save-name">Name</label> <input id="save-name" name="name" required maxlength="100"> <button type="submit">Save</button></form>`, 'save-query-card')}
</div><div>
${section('Saved queries', saved.length
  ? html`<ul class="plain" id="saved-queries">${saved.map((q) => html`<li><a href="/portal/hunting${queryString({ query: q.query, run: '1' })}">${q.name}</a>
<form method="post" action="/portal/hunting/saved/delete" class="inline"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="name" value="${q.name}"><button type="submit" aria-label="Delete ${q.name}">Delete</button></form></li>`)}</ul>`
  : html`<p class="muted">None yet.</p>`, 'saved')}
${section('Schema', html`<div id="schema">${schema.map((t) => html`<details><summary>${t.table}</summary><ul class="plain">${t.columns.map((c) => html`<li><code>${c.name}</code> <span class="muted">${c.type}</span></li>`)}</ul></details>`)}</div>`, 'schema-card')}
</div></div>
<link rel="stylesheet" href="/portal/scripts/portal-b.css"><script src="/portal/scripts/hunting.js" defer></script>`,
    };
  },
});
