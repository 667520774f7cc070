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

-- Correlation hits follow: a hit is keyed within its group too, so another host's event that
-- reuses a ReportId still counts in its own group (a redelivery lands in the same group, once).
CREATE TABLE rule_hits_by_group (
  rule_id       TEXT NOT NULL,
  group_key     TEXT NOT NULL,
  event_time    INTEGER NOT NULL,
  report_id     TEXT NOT NULL,
  detonation_id TEXT,
  value         TEXT,
  PRIMARY KEY (rule_id, group_key, report_id)
);
INSERT INTO rule_hits_by_group (rule_id, group_key, event_time, report_id, detonation_id, value)
  SELECT rule_id, group_key, event_time, report_id, detonation_id, value FROM rule_hits;
DROP TABLE rule_hits;
ALTER TABLE rule_hits_by_group RENAME TO rule_hits;
CREATE INDEX rule_hits_group ON rule_hits(rule_id, group_key, event_time);
