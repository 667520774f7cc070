-- arcsim store, version 9 (issue 12): events are keyed by (agent, ReportId), so one agent cannot
-- squat another's ReportIds; machines keep the events their agent's spool dropped when full.
-- The primary key is swapped in place, every row kept (they were unique by ReportId alone, so
-- they are unique by (agent, ReportId) too).

ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (agent_id, report_id);
CREATE INDEX events_report ON events(report_id);

-- Total events the agent's spool dropped because it was full, as its last heartbeat reported.
ALTER TABLE machines ADD COLUMN dropped_events BIGINT NOT NULL DEFAULT 0;
