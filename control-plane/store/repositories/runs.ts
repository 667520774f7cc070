import { sql } from '../sql.ts';
import { bit, toTestRun, toTestRunSummary, type TestRunCols, type TestRunSummaryCols } from '../row-decoding.ts';
import type { RunsRepository, TestRunRow } from '../store.ts';
import { RepositoryBase } from './base.ts';

const Q = {
  // An upsert takes the run's row lock, so two saves of one run id take turns and the cells
  // deleted next are the committed ones.
  upsertRun: sql(`INSERT INTO test_runs (run_id, suite_name, started_at, finished_at, ok, summary, suite, result)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                  ON CONFLICT (run_id) DO UPDATE SET suite_name = excluded.suite_name, started_at = excluded.started_at,
                    finished_at = excluded.finished_at, ok = excluded.ok, summary = excluded.summary, suite = excluded.suite, result = excluded.result`),
  deleteCells: sql(`DELETE FROM test_run_cells WHERE run_id = ?`),
  insertCells: sql((d) => `INSERT INTO test_run_cells (run_id, cell_id, row_id, host, status, reasons)
                  SELECT ?, cell_id, row_id, host, status, reasons
                  FROM ${d.jsonRows('x', { cell_id: 'text', row_id: 'text', host: 'text', status: 'text', reasons: 'json' })}`),
  list: sql(`SELECT run_id, suite_name, started_at, finished_at, ok, summary FROM test_runs ORDER BY started_at DESC, run_id LIMIT ?`),
  // The portal's runs list: one page in the list's order, on the test_runs_started index.
  page: sql(`SELECT run_id, suite_name, started_at, finished_at, ok, summary FROM test_runs ORDER BY started_at DESC, run_id LIMIT ? OFFSET ?`),
  count: sql(`SELECT COUNT(*) AS n FROM test_runs`),
  // One statement (cells aggregated in), so the run and its cells come from one snapshot.
  get: sql((d) => `SELECT r.*, ${d.jsonArray(
    { cellId: 'c.cell_id', rowId: 'c.row_id', host: 'c.host', status: 'c.status', reasons: d.asJson('c.reasons') },
    'test_run_cells c WHERE c.run_id = r.run_id', 'c.cell_id',
  )} AS cells FROM test_runs r WHERE r.run_id = ?`),
};

export class RunsRepo extends RepositoryBase implements RunsRepository {
  async insertTestRun(r: TestRunRow): Promise<void> {
    // Replaced as a whole so a re-saved run never keeps stale cells.
    await this.ex.atomic(async (ex) => {
      await ex.run(Q.upsertRun, [
        r.runId, r.suiteName, r.startedAt, r.finishedAt, bit(r.ok), JSON.stringify(r.summary), JSON.stringify(r.suite), JSON.stringify(r.result),
      ]);
      await ex.run(Q.deleteCells, [r.runId]);
      if (r.cells.length === 0) return;
      await ex.run(Q.insertCells, [r.runId, JSON.stringify(r.cells.map((c) => ({
        cell_id: c.cellId, row_id: c.rowId, host: c.host, status: c.status, reasons: c.reasons,
      })))]);
    });
  }

  async listTestRuns(limit = 100): Promise<Array<Omit<TestRunRow, 'suite' | 'result' | 'cells'>>> {
    return (await this.ex.all<TestRunSummaryCols>(Q.list, [limit])).map(toTestRunSummary);
  }

  async pageTestRuns(page: { offset: number; limit: number }): Promise<{ rows: Array<Omit<TestRunRow, 'suite' | 'result' | 'cells'>>; total: number }> {
    const [rows, total] = await Promise.all([
      this.ex.all<TestRunSummaryCols>(Q.page, [page.limit, page.offset]),
      this.ex.get<{ n: number | string }>(Q.count),
    ]);
    return { rows: rows.map(toTestRunSummary), total: Number(total?.n ?? 0) };
  }

  async getTestRun(runId: string): Promise<TestRunRow | undefined> {
    const r = await this.ex.get<TestRunCols>(Q.get, [runId]);
    return r && toTestRun(r);
  }
}
