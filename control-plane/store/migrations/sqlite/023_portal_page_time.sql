-- arcsim store, version 23 (issue 15, portal page time: every page within 300 ms with 10,000
-- alerts and 1,000,000 events stored; `npm run bench -- --portal`).
--
-- The device timeline filtered by action type (`/portal/machines/{name}?action=FileCreated`) read
-- every event of the machine through (agent_id, ts) and decoded each row's JSON to find the few
-- that match: 134 ms of CPU for 21 matches among a machine's 100,000 events. An index on the
-- expression the query names (`json_extract(data, '$.ActionType')`, the same text, so SQLite
-- matches it) after the agent makes that a range read of the matching rows (0.1 ms). Events
-- without an ActionType index as NULL. The scratch store of `arcsim detect` drops it
-- (SCRATCH_DROPPED_INDEXES): it serves no timeline.
CREATE INDEX IF NOT EXISTS events_agent_action_ts ON events(agent_id, json_extract(data, '$.ActionType'), ts);

-- The overview's chart counts alerts per day and severity since a time (alertCountsOverTime): with
-- (time_generated, severity) that is a covering index range, not a scan of every alert's row.
CREATE INDEX IF NOT EXISTS alerts_generated ON alerts(time_generated, severity);

-- The alerts list pages with LIMIT/OFFSET, ties broken by the alert id: with the id in the index,
-- the newest-first order and the name order are walked in the index, so a page (the 200th too)
-- reads its 50 rows, not all 10,000 and their JSON sorted (last page 44.6 -> 0.8 ms CPU; sorted by
-- name, last page 478 -> 1.1 ms). (end_time, system_alert_id) serves everything alerts_end_time (020) did.
CREATE INDEX IF NOT EXISTS alerts_end_time_id ON alerts(end_time, system_alert_id);
DROP INDEX IF EXISTS alerts_end_time;
CREATE INDEX IF NOT EXISTS alerts_name_id ON alerts((properties ->> '$.alertDisplayName'), system_alert_id);
