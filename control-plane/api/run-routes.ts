import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { protocolError, StoreRunBodySchema, type Limits, type RunResult } from '../../protocol/index.ts';
import type { Store } from '../store/index.ts';
import { renderAlert } from './alert-routes.ts';
import { ROLE, ERROR_RESPONSES, listOf } from './http.ts';

/** Format name and version of an exported run bundle. */
export const BUNDLE_FORMAT = 'arcsim-run-bundle' as const;
export const BUNDLE_VERSION = 1 as const;

export interface RunRouteDeps {
  store: Store;
  baseUrl(): string;
  limits: Pick<Limits, 'maxImportBodyBytes'>;
}

const RunParams = z.object({ id: z.string() });
const Stored = z.object({ runId: z.string(), url: z.string() });
const RunSummary = z.looseObject({ runId: z.string(), suite: z.string(), startedAt: z.string(), finishedAt: z.string(), ok: z.boolean(), summary: z.looseObject({}) });
const RunDoc = z.looseObject({}).describe('the run result as `arcsim run` wrote it');
const Bundle = z.looseObject({
  format: z.literal(BUNDLE_FORMAT), version: z.literal(BUNDLE_VERSION), exportedAt: z.string(),
  suite: z.unknown(), result: z.unknown(), events: z.array(z.looseObject({})), alerts: z.array(z.looseObject({})),
});

/** Stored multi-cloud test runs: save (contributor), list, show, export as a bundle (reader). */
export const runRoutes: FastifyPluginAsyncZod<RunRouteDeps> = async (app, deps) => {
  const { store } = deps;
  const tags = ['runs'];

  app.post('/api/runs', {
    // A run result with many cells is larger than the 1 MiB default.
    bodyLimit: deps.limits.maxImportBodyBytes,
    schema: { tags, summary: 'Store a test run result', security: ROLE.contributor, body: StoreRunBodySchema, response: { 201: Stored, ...ERROR_RESPONSES } },
  }, async (req, reply) => {
    const { result, suite } = req.body;
    await store.runs.insertTestRun({
      runId: result.runId, suiteName: result.suite.name, startedAt: Date.parse(result.startedAt), finishedAt: Date.parse(result.finishedAt),
      ok: result.ok, summary: result.summary, suite, result: result as unknown as Record<string, unknown>,
      cells: result.cells.map((c) => ({ cellId: c.cellId, rowId: c.rowId, host: c.host, status: c.status, reasons: c.reasons })),
    });
    return reply.status(201).send({ runId: result.runId, url: `${deps.baseUrl()}/api/runs/${result.runId}` });
  });

  app.get('/api/runs', { schema: { tags, summary: 'Stored test runs', security: ROLE.reader, response: { 200: listOf(RunSummary), ...ERROR_RESPONSES } } }, async () => ({
    value: (await store.runs.listTestRuns()).map((r) => ({
      runId: r.runId, suite: r.suiteName, startedAt: new Date(r.startedAt).toISOString(), finishedAt: new Date(r.finishedAt).toISOString(),
      ok: r.ok, summary: r.summary,
    })),
  }));

  app.get('/api/runs/:id', { schema: { tags, summary: 'One test run result', security: ROLE.reader, params: RunParams, response: { 200: RunDoc, ...ERROR_RESPONSES } } }, async (req) => {
    const { id } = req.params;
    const run = await store.runs.getTestRun(id);
    if (!run) throw protocolError('ARCSIM_E_NOT_FOUND', `no test run ${id}`);
    return run.result;
  });

  /** Everything needed to replay the run elsewhere: suite, result, the run's events and alerts. */
  app.get('/api/runs/:id/bundle', {
    schema: { tags, summary: 'Export a run with its suite, events and alerts', security: ROLE.reader, params: RunParams, response: { 200: Bundle, ...ERROR_RESPONSES } },
  }, async (req) => {
    const { id } = req.params;
    const run = await store.runs.getTestRun(id);
    if (!run) throw protocolError('ARCSIM_E_NOT_FOUND', `no test run ${id}`);
    const result = run.result as unknown as RunResult;
    const detonations = [...new Set(result.cells.flatMap((c) => c.detonationIds))];
    const events = [];
    const alerts = new Map<string, Record<string, unknown>>();
    for (const d of detonations) {
      events.push(...(await store.events.listEvents({ detonationId: d, limit: 100_000 })));
      for (const a of await store.alerts.listAlerts({ detonationId: d })) {
        if (!alerts.has(a.systemAlertId)) alerts.set(a.systemAlertId, await renderAlert(store, deps.baseUrl(), a));
      }
    }
    return { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, exportedAt: new Date().toISOString(), suite: run.suite, result, events, alerts: [...alerts.values()] };
  });
};
