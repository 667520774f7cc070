import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { adminKeyOption, apiKeyOption, controlPlaneOption } from './options.ts';
import { apiOf } from './api.ts';
import { ApiError, type HuntingResult, type QueryFinding } from '../testruns/api-client.ts';
import { protocolError } from '../protocol/index.ts';
import { table } from '../lib/text-table.ts';

/**
 * The query text with each finding under its line: `line:column message` and a caret under the
 * column (what `arcsim query` prints for ARCSIM_E_QUERY).
 */
export function renderFindings(query: string, findings: QueryFinding[]): string {
  const lines = query.split('\n');
  const out: string[] = [];
  for (const f of findings) {
    const text = lines[f.line - 1] ?? '';
    out.push(`${f.line}:${f.column}: ${f.message} (${f.code})`);
    out.push(`  ${text}`);
    out.push(`  ${' '.repeat(Math.max(0, f.column - 1))}${'^'.repeat(Math.max(1, Math.min(f.length, text.length - f.column + 1)))}`);
  }
  return out.join('\n');
}

/** A cell as text: objects as JSON, null as empty. */
const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Rows by column name, whichever API shape answered. */
interface Rows { names: string[]; rows: Array<Record<string, unknown>>; truncated: boolean }

function csv(r: Rows): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [r.names.map(q).join(','), ...r.rows.map((row) => r.names.map((n) => q(cell(row[n]))).join(','))].join('\n') + '\n';
}

const API_SHAPES = ['hunting', 'log-analytics', 'arg'] as const;

/** Runs the query through the chosen API shape: its raw reply (for --json) and its rows. */
async function run(api: ReturnType<typeof apiOf>, shape: (typeof API_SHAPES)[number], query: string, opts: { workspace: string; timespan?: string }): Promise<{ raw: unknown; rows: Rows }> {
  if (shape === 'log-analytics') {
    const raw = await api.logAnalyticsQuery(opts.workspace, query, opts.timespan);
    const t = raw.tables[0]!;
    return { raw, rows: { names: t.columns.map((c) => c.name), rows: t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c.name, r[i]]))), truncated: false } };
  }
  if (shape === 'arg') {
    // Every page, following $skipToken (Resource Graph pages 1,000 rows).
    const pages = [await api.resourceGraphQuery(query)];
    while (pages.at(-1)!.$skipToken) pages.push(await api.resourceGraphQuery(query, { skipToken: pages.at(-1)!.$skipToken }));
    const rows = pages.flatMap((p) => p.data);
    return { raw: { ...pages[0], count: rows.length, data: rows, $skipToken: undefined }, rows: { names: Object.keys(rows[0] ?? {}), rows, truncated: pages[0]!.resultTruncated === 'true' } };
  }
  const r: HuntingResult = await api.huntingQuery(query);
  return { raw: r, rows: { names: r.Schema.map((c) => c.Name), rows: r.Results, truncated: r.Stats?.Truncated ?? false } };
}

/**
 * `arcsim query [QUERY] [--file F] [--api hunting|log-analytics|arg] [--json|--csv]`: runs KQL
 * through one of the API shapes (default: advanced hunting, POST /api/advancedqueries/run).
 */
export function queryCommand(): Command {
  return new Command('query')
    .description('run a KQL query over the lab (advanced hunting tables, SecurityAlert/SecurityIncident, securityresources/resources; docs/query.md); a table by default')
    .argument('[query]', 'the KQL text (or --file, or standard input when neither is given)')
    .option('--file <file>', 'read the query from a file')
    .addOption(new Option('--json', 'print the API reply as JSON (hunting: Schema, Results, Stats; arg: every page in one data array)').conflicts('csv'))
    .option('--csv', 'print the rows as CSV with a header line')
    .addOption(new Option('--api <shape>', 'which API shape runs it: hunting (POST /api/advancedqueries/run), log-analytics (POST /v1/workspaces/ID/query), arg (Azure Resource Graph: resources, securityresources)').choices(API_SHAPES).default('hunting'))
    .option('--workspace <id>', 'the workspace id for --api log-analytics', 'arcsim')
    .option('--timespan <iso8601>', 'for --api log-analytics: PT1H, P1D, start/end')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (queryArg: string | undefined, opts) => {
      if (queryArg && opts.file) throw protocolError('ARCSIM_E_VALIDATION', 'give the query as an argument or with --file, not both');
      const query = opts.file ? readFileSync(opts.file, 'utf8') : queryArg ?? readFileSync(0, 'utf8');
      let r: { raw: unknown; rows: Rows };
      try {
        r = await run(apiOf(opts), opts.api, query, opts);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'ARCSIM_E_QUERY' && err.details?.length) {
          process.stderr.write(renderFindings(query, err.details) + '\n');
        }
        throw err;
      }
      if (opts.json) return void process.stdout.write(JSON.stringify(r.raw, null, 2) + '\n');
      if (opts.csv) return void process.stdout.write(csv(r.rows));
      const rows = r.rows.rows.map((row) => Object.fromEntries(r.rows.names.map((n) => [n, cell(row[n])])));
      process.stdout.write(table(rows, r.rows.names) + '\n');
      process.stderr.write(`${rows.length} row(s)${r.rows.truncated ? ', truncated at the row cap' : ''}\n`);
    });
}
