-- arcsim store, version 14 (issue 13, item 9; port of sqlite/014_events_rowid.sql). A PostgreSQL
-- table is already a heap (rows appended, like SQLite's rowid table): only the indexes follow.
-- The (agent, ReportId) key keeps its constraint, with its columns as (ReportId, agent) so that
-- the same index answers `report_id IN (...)` (event links, closing-window triggers) and the
-- separate events_report index of migration 009 goes. ON CONFLICT (agent_id, report_id) infers
-- a unique index by its set of columns, whatever their order.

ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (report_id, agent_id);
DROP INDEX events_report;
