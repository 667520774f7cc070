-- arcsim store, version 9 (issue 12): events are keyed by (agent, ReportId), so one agent cannot
-- squat another's ReportIds; machines keep the events their agent's spool dropped when full.
-- SQLite cannot change a primary key in place: the table is rebuilt, every row kept.

CREATE TABLE events_by_agent (
  report_id     TEXT NOT NULL,
  agent_id      TEXT NOT NULL,
  tbl           TEXT NOT NULL,
  ts            INTEGER NOT NULL,
  detonation_id TEXT,
  data          TEXT NOT NULL,
  received_at   INTEGER NOT NULL,
  PRIMARY KEY (agent_id, report_id)
) WITHOUT ROWID;
INSERT INTO events_by_agent (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
  SELECT report_id, agent_id, tbl, ts, detonation_id, data, received_at FROM events;
DROP TABLE events;
ALTER TABLE events_by_agent RENAME TO events;
CREATE INDEX events_agent_ts ON events(agent_id, ts);
CREATE INDEX events_detonation ON events(detonation_id) WHERE detonation_id IS NOT NULL;
CREATE INDEX events_report ON events(report_id);

-- Total events the agent's spool dropped because it was full, as its last heartbeat reported.
ALTER TABLE machines ADD COLUMN dropped_events INTEGER NOT NULL DEFAULT 0;
