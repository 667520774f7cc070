-- arcsim store, version 6 (PostgreSQL port of sqlite/006_test_runs.sql): multi-cloud test runs
-- (issue #7), kept so they can be listed, shown and exported later.

CREATE TABLE test_runs (
  run_id      TEXT COLLATE "C" PRIMARY KEY,
  suite_name  TEXT NOT NULL,
  started_at  BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  ok          BOOLEAN NOT NULL,           -- true when every expectation held
  summary     JSON NOT NULL,              -- counts of passed / failed / not run / not checked cells
  suite       JSON NOT NULL,              -- the suite as run (scenario documents resolved), for export and replay
  result      JSON NOT NULL               -- the full run result
);
CREATE INDEX test_runs_started ON test_runs(started_at);

-- One row per matrix cell (scenario x host), so outcomes can be queried without parsing the result.
CREATE TABLE test_run_cells (
  run_id    TEXT COLLATE "C" NOT NULL REFERENCES test_runs(run_id),
  cell_id   TEXT COLLATE "C" NOT NULL,
  row_id    TEXT NOT NULL,
  host      TEXT NOT NULL,
  status    TEXT NOT NULL,                -- pass | fail | not-run | not-checked
  reasons   JSON NOT NULL,                -- array of reason strings
  PRIMARY KEY (run_id, cell_id)
);
