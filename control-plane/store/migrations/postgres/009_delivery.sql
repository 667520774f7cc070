-- arcsim store, version 9 (issue 12): events are keyed by (agent, ReportId), so one agent cannot
-- squat another's ReportIds; machines keep the events their agent's spool dropped when full.
-- The primary key is swapped in place, every row kept (they were unique by ReportId alone, so
-- they are unique by (agent, ReportId) too).

ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (agent_id, report_id);
CREATE INDEX events_report ON events(report_id);

-- Total events the agent's spool dropped because it was full, as its last heartbeat reported.
ALTER TABLE machines ADD COLUMN dropped_events BIGINT NOT NULL DEFAULT 0;

-- Correlation hits follow: a hit is keyed within its group too, so another host's event that
-- reuses a ReportId still counts in its own group (a redelivery lands in the same group, once).
ALTER TABLE rule_hits DROP CONSTRAINT rule_hits_pkey;
ALTER TABLE rule_hits ADD CONSTRAINT rule_hits_pkey PRIMARY KEY (rule_id, group_key, report_id);
