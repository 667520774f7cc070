-- arcsim store, version 13 (issue 14): KQL queries scan one table over a time range
-- (`DeviceProcessEvents | where Timestamp > ago(1d)`); this index answers that without reading
-- every event. (012 is left to the sinks outbox, being written on another branch.)
CREATE INDEX IF NOT EXISTS events_tbl_ts ON events(tbl, ts);
