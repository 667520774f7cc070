-- arcsim store, version 6: multi-cloud test runs (issue #7), kept so they can be listed, shown and exported later.

CREATE TABLE test_runs (
  run_id      TEXT PRIMARY KEY,
  suite_name  TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  ok          INTEGER NOT NULL,           -- 1 when every expectation held
  summary     TEXT NOT NULL,              -- JSON: counts of passed / failed / not run / not checked cells
  suite       TEXT NOT NULL,              -- JSON: the suite as run (scenario documents resolved), for export and replay
  result      TEXT NOT NULL               -- JSON: the full run result
);
CREATE INDEX test_runs_started ON test_runs(started_at);

-- One row per matrix cell (scenario x host), so outcomes can be queried without parsing the result.
CREATE TABLE test_run_cells (
  run_id    TEXT NOT NULL REFERENCES test_runs(run_id),
  cell_id   TEXT NOT NULL,
  row_id    TEXT NOT NULL,
  host      TEXT NOT NULL,
  status    TEXT NOT NULL,                -- pass | fail | not-run | not-checked
  reasons   TEXT NOT NULL,                -- JSON array of reason strings
  PRIMARY KEY (run_id, cell_id)
);
