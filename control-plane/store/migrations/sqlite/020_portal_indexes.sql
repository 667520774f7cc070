-- arcsim store, version 20 (issue 15): the portal's device timeline reads one machine's events,
-- newest first, often of one table (`/portal/machines/{name}?table=DeviceProcessEvents`); with
-- (agent_id, tbl, ts) that is an index range however many events other machines or tables hold.
-- The alerts list sorts by last activity (end_time) and pages with LIMIT/OFFSET.
CREATE INDEX IF NOT EXISTS events_agent_tbl_ts ON events(agent_id, tbl, ts);
CREATE INDEX IF NOT EXISTS alerts_end_time ON alerts(end_time);
