-- arcsim store, version 14 (issue 13, item 9): events become a rowid table. Each event is written
-- once and read rarely, so the row is appended in rowid order instead of being placed in a
-- b-tree keyed by (agent, ReportId) (WITHOUT ROWID: every insert a random-key page split).
-- The (agent, ReportId) dedup stays as a UNIQUE index, with its columns as (ReportId, agent) so
-- the same index also answers `report_id IN (...)` (event links, closing-window triggers): the
-- separate events_report index of migration 009 is dropped. Kept, because a query reads them:
--   events_agent_ts          listEvents/countEvents by agent (GET /api/agents/events), ordered by ts
--   events_detonation        listEvents/countEvents by detonation (runs, timelines), partial
--   events_tbl_ts            KQL scans of one table over a time range (control-plane/query)
--   events_file_certificates the newest DeviceFileCertificateInfo rows at start-up, partial
-- SQLite cannot change a primary key in place: the table is rebuilt, every row kept, in the
-- order it was received.

CREATE TABLE events_rowid (
  report_id     TEXT NOT NULL,
  agent_id      TEXT NOT NULL,
  tbl           TEXT NOT NULL,
  ts            INTEGER NOT NULL,
  detonation_id TEXT,
  data          TEXT NOT NULL,
  received_at   INTEGER NOT NULL
);
INSERT INTO events_rowid (report_id, agent_id, tbl, ts, detonation_id, data, received_at)
  SELECT report_id, agent_id, tbl, ts, detonation_id, data, received_at FROM events ORDER BY received_at, ts, report_id;
DROP TABLE events;
ALTER TABLE events_rowid RENAME TO events;
CREATE UNIQUE INDEX events_key ON events(report_id, agent_id);
CREATE INDEX events_agent_ts ON events(agent_id, ts);
CREATE INDEX events_detonation ON events(detonation_id) WHERE detonation_id IS NOT NULL;
CREATE INDEX events_tbl_ts ON events(tbl, ts);
CREATE INDEX events_file_certificates ON events(ts) WHERE tbl = 'DeviceFileCertificateInfo';
