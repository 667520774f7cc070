-- arcsim store, version 12 (issue 14): KQL queries scan one table over a time range
-- (`DeviceProcessEvents | where Timestamp > ago(1d)`); this index answers that without reading
-- every event. (011 is the sinks outbox.)
CREATE INDEX IF NOT EXISTS events_tbl_ts ON events(tbl, ts);
