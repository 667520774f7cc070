import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../../lib/clock.ts';
import { protocolError } from '../../../protocol/index.ts';
import { ERROR_RESPONSES, ROLE } from '../../api/http.ts';
import { classify, completions, diagnostics } from '../../query/language-service.ts';
import { queryStore, type QueryLimits } from '../../query/index.ts';
import { tableSchemas } from '../../query/tables.ts';
import { toJsonValue } from '../../query/values.ts';
import type { Store } from '../../store/index.ts';
import { PORTAL_LIMITS } from '../limits.ts';

export interface HuntingServiceDeps {
  store: Store;
  clock: Clock;
  baseUrl(): string;
  queryLimits?: Partial<QueryLimits>;
}

const Text = z.string().max(PORTAL_LIMITS.maxQueryChars);
const CompleteBody = z.strictObject({ text: Text, position: z.number().int().min(0).max(PORTAL_LIMITS.maxQueryChars) });
const ClassifyBody = z.strictObject({ text: Text });
const RunBody = z.strictObject({ query: Text.min(1) });
const CsvQuery = z.object({ query: Text.min(1) });
const SaveBody = z.object({
  name: z.string().trim().min(1).max(PORTAL_LIMITS.maxSavedQueryName),
  query: Text.min(1),
  csrf: z.string().max(128).default(''),
});
const Diagnostic = z.object({ message: z.string(), code: z.string(), start: z.number(), length: z.number(), line: z.number(), column: z.number() });
const CompleteReply = z.object({ from: z.number(), length: z.number(), items: z.array(z.object({ label: z.string(), kind: z.string(), insert: z.string() })) });
const ClassifyReply = z.object({ ranges: z.array(z.object({ kind: z.string(), start: z.number(), length: z.number() })), errors: z.array(Diagnostic) });
const RunReply = z.object({ columns: z.array(z.object({ name: z.string(), type: z.string() })), rows: z.array(z.array(z.unknown())), truncated: z.boolean(), elapsedMs: z.number() });
const SchemaReply = z.object({ tables: z.array(z.object({ table: z.string(), columns: z.array(z.object({ name: z.string(), type: z.string() })) })) });
const SavedReply = z.object({ value: z.array(z.object({ name: z.string(), query: z.string(), updated: z.string() })) });
const DeleteBody = z.object({ name: z.string().max(PORTAL_LIMITS.maxSavedQueryName), csrf: z.string().max(128).default('') });

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * One CSV cell (RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled). A
 * cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
 * leading `'` (OWASP "CSV injection"): lab data comes from scenario files and must not run in Excel.
 */
export function csvCell(v: unknown): string {
  const j = toJsonValue(v as never);
  let s = j === null || j === undefined ? '' : typeof j === 'object' ? JSON.stringify(j) : String(j);
  if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The hunting page's services: the editor's completion and highlighting (Kusto.Language over
 * arcsim's tables), running a query with every error placed (line, column), the schema, a CSV
 * download of a result, and each key's saved queries. Reads are `readOnly` POSTs (not audited as
 * writes); saving and deleting are form posts with the session's CSRF token.
 */
export const huntingServices: FastifyPluginAsyncZod<HuntingServiceDeps> = async (app, deps) => {
  const tags = ['portal'];
  const run = (query: string) => queryStore(query, { store: deps.store, baseUrl: deps.baseUrl, now: () => new Date(deps.clock.now()), limits: deps.queryLimits });

  app.post('/portal/hunting/complete', {
    config: { readOnly: true },
    schema: { tags, summary: 'Completion items at a position of a KQL query (Kusto.Language)', security: ROLE.reader, body: CompleteBody, response: { 200: CompleteReply, ...ERROR_RESPONSES } },
  }, async (req) => completions(req.body.text, req.body.position, PORTAL_LIMITS.maxCompletions));

  app.post('/portal/hunting/classify', {
    config: { readOnly: true },
    schema: { tags, summary: 'Classified ranges of a KQL query (syntax highlighting) and its errors with positions', security: ROLE.reader, body: ClassifyBody, response: { 200: ClassifyReply, ...ERROR_RESPONSES } },
  }, async (req) => ({ ranges: classify(req.body.text), errors: req.body.text.trim() ? diagnostics(req.body.text) : [] }));

  app.post('/portal/hunting/run', {
    config: { readOnly: true },
    schema: { tags, summary: 'Run a KQL query; a bad one is 400 ARCSIM_E_QUERY with `errors` (line, column)', security: ROLE.reader, body: RunBody, response: { 200: RunReply, ...ERROR_RESPONSES } },
  }, async (req) => {
    const started = performance.now();
    const r = await run(req.body.query);
    return {
      columns: r.columns,
      rows: r.rows.map((row) => r.columns.map((c) => toJsonValue(row[c.name] ?? null))),
      truncated: r.truncated,
      elapsedMs: Math.round(performance.now() - started),
    };
  });

  app.get('/portal/hunting/schema', {
    schema: { tags, summary: 'Every table a hunting query can name, with its columns and types', security: ROLE.reader, response: { 200: SchemaReply, ...ERROR_RESPONSES } },
  }, async () => ({ tables: tableSchemas() }));

  app.get('/portal/hunting/results.csv', {
    schema: { tags, summary: 'A query\'s result as CSV (RFC 4180, header row)', security: ROLE.reader, querystring: CsvQuery, produces: ['text/csv'], response: { 200: z.string(), ...ERROR_RESPONSES } },
  }, async (req, reply) => {
    const r = await run(req.query.query);
    const lines = [r.columns.map((c) => csvCell(c.name)).join(','), ...r.rows.map((row) => r.columns.map((c) => csvCell(row[c.name] ?? null)).join(','))];
    return reply.header('content-disposition', 'attachment; filename="hunting-results.csv"').header('cache-control', 'no-store')
      .type('text/csv; charset=utf-8').send(`${lines.join('\r\n')}\r\n`);
  });

  app.get('/portal/hunting/saved', {
    schema: { tags, summary: 'The signed-in key\'s saved queries', security: ROLE.reader, response: { 200: SavedReply, ...ERROR_RESPONSES } },
  }, async (req) => ({ value: (await deps.store.portal.listQueries(req.caller!.name)).map((q) => ({ name: q.name, query: q.query, updated: new Date(q.updatedAt).toISOString() })) }));

  app.post('/portal/hunting/saved', {
    bodyLimit: PORTAL_LIMITS.maxQueryChars * 4,
    schema: { tags, summary: 'Save (or replace) a query under a name for the signed-in key (form: name, query, csrf); 303 to the hunting page', security: ROLE.reader, consumes: ['application/x-www-form-urlencoded'], body: SaveBody },
  }, async (req, reply) => {
    if (req.portalSession && !sameText(req.body.csrf, req.portalSession.csrf)) throw protocolError('ARCSIM_E_CSRF');
    const owner = req.caller!.name;
    const existing = await deps.store.portal.listQueries(owner);
    const before = existing.find((q) => q.name === req.body.name);
    if (!before && existing.length >= PORTAL_LIMITS.maxSavedQueries) {
      throw protocolError('ARCSIM_E_VALIDATION', `at most ${PORTAL_LIMITS.maxSavedQueries} saved queries per key; delete one first`, 'body.name');
    }
    const now = deps.clock.now();
    await deps.store.portal.saveQuery({ owner, name: req.body.name, query: req.body.query, createdAt: before?.createdAt ?? now, updatedAt: now });
    return reply.status(303).header('location', `/portal/hunting?saved=${encodeURIComponent(req.body.name)}`).send();
  });

  app.post('/portal/hunting/saved/delete', {
    schema: { tags, summary: 'Delete one of the signed-in key\'s saved queries (form: name, csrf); 303 to the hunting page', security: ROLE.reader, consumes: ['application/x-www-form-urlencoded'], body: DeleteBody },
  }, async (req, reply) => {
    if (req.portalSession && !sameText(req.body.csrf, req.portalSession.csrf)) throw protocolError('ARCSIM_E_CSRF');
    if (!(await deps.store.portal.deleteQuery(req.caller!.name, req.body.name))) throw protocolError('ARCSIM_E_NOT_FOUND', `no saved query ${req.body.name}`);
    return reply.status(303).header('location', '/portal/hunting').send();
  });
};
