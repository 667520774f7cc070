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

function csv(r: HuntingResult): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const names = r.Schema.map((c) => c.Name);
  return [names.map(q).join(','), ...r.Results.map((row) => names.map((n) => q(cell(row[n]))).join(','))].join('\n') + '\n';
}

/** `arcsim query [QUERY] [--file F] [--json|--csv]`: runs KQL through POST /api/advancedqueries/run. */
export function queryCommand(): Command {
  return new Command('query')
    .description('run a KQL query over the lab (advanced hunting tables, SecurityAlert/SecurityIncident, securityresources/resources; docs/query.md); a table by default')
    .argument('[query]', 'the KQL text (or --file, or standard input when neither is given)')
    .option('--file <file>', 'read the query from a file')
    .addOption(new Option('--json', 'print the API reply (Schema, Results, Stats) as JSON').conflicts('csv'))
    .option('--csv', 'print the rows as CSV with a header line')
    .addOption(controlPlaneOption())
    .addOption(apiKeyOption())
    .addOption(adminKeyOption())
    .action(async (queryArg: string | undefined, opts) => {
      if (queryArg && opts.file) throw protocolError('ARCSIM_E_VALIDATION', 'give the query as an argument or with --file, not both');
      const query = opts.file ? readFileSync(opts.file, 'utf8') : queryArg ?? readFileSync(0, 'utf8');
      let r: HuntingResult;
      try {
        r = await apiOf(opts).huntingQuery(query);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'ARCSIM_E_QUERY' && err.details?.length) {
          process.stderr.write(renderFindings(query, err.details) + '\n');
        }
        throw err;
      }
      if (opts.json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      if (opts.csv) return void process.stdout.write(csv(r));
      const rows = r.Results.map((row) => Object.fromEntries(r.Schema.map((c) => [c.Name, cell(row[c.Name])])));
      process.stdout.write(table(rows, r.Schema.map((c) => c.Name)) + '\n');
      process.stderr.write(`${r.Results.length} row(s)${r.Stats?.Truncated ? ', truncated at the row cap' : ''}\n`);
    });
}
