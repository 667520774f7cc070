import type { FastifyInstance, FastifyRequest } from 'fastify';
import { protocolError, StoreRunBodySchema, type RunResult } from '../../protocol/index.ts';
import type { Store } from '../store/index.ts';
import { renderAlert } from './alert-routes.ts';
import { parse } from './http.ts';

/** Format name and version of an exported run bundle. */
export const BUNDLE_FORMAT = 'arcsim-run-bundle';
export const BUNDLE_VERSION = 1;

export interface RunRouteDeps {
  store: Store;
  baseUrl(): string;
  requireAdmin(req: FastifyRequest): Promise<void>;
}

/** Stored multi-cloud test runs: save (admin), list, show, export as a bundle (admin). */
export function registerRunRoutes(app: FastifyInstance, deps: RunRouteDeps): void {
  const { store } = deps;

  app.post('/api/runs', { preHandler: deps.requireAdmin, bodyLimit: 64 * 1024 * 1024 }, async (req, reply) => {
    const { result, suite } = parse(StoreRunBodySchema, req.body, 'body');
    await store.insertTestRun({
      runId: result.runId, suiteName: result.suite.name, startedAt: Date.parse(result.startedAt), finishedAt: Date.parse(result.finishedAt),
      ok: result.ok, summary: result.summary, suite, result: result as unknown as Record<string, unknown>,
      cells: result.cells.map((c) => ({ cellId: c.cellId, rowId: c.rowId, host: c.host, status: c.status, reasons: c.reasons })),
    });
    return reply.status(201).send({ runId: result.runId, url: `${deps.baseUrl()}/api/runs/${result.runId}` });
  });

  app.get('/api/runs', async () => ({
    value: (await store.listTestRuns()).map((r) => ({
      runId: r.runId, suite: r.suiteName, startedAt: new Date(r.startedAt).toISOString(), finishedAt: new Date(r.finishedAt).toISOString(),
      ok: r.ok, summary: r.summary,
    })),
  }));

  app.get('/api/runs/:id', async (req) => {
    const { id } = req.params as { id: string };
    const run = await store.getTestRun(id);
    if (!run) throw protocolError('ARCSIM_E_NOT_FOUND', `no test run ${id}`);
    return run.result;
  });

  /** Everything needed to replay the run elsewhere: suite, result, the run's events and alerts. */
  app.get('/api/runs/:id/bundle', { preHandler: deps.requireAdmin }, async (req) => {
    const { id } = req.params as { id: string };
    const run = await store.getTestRun(id);
    if (!run) throw protocolError('ARCSIM_E_NOT_FOUND', `no test run ${id}`);
    const result = run.result as unknown as RunResult;
    const detonations = [...new Set(result.cells.flatMap((c) => c.detonationIds))];
    const events = [];
    const alerts = new Map<string, Record<string, unknown>>();
    for (const d of detonations) {
      events.push(...(await store.listEvents({ detonationId: d, limit: 100_000 })));
      for (const a of await store.listAlerts({ detonationId: d })) {
        if (!alerts.has(a.systemAlertId)) alerts.set(a.systemAlertId, await renderAlert(store, deps.baseUrl(), a));
      }
    }
    return { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, exportedAt: new Date().toISOString(), suite: run.suite, result, events, alerts: [...alerts.values()] };
  });
}
