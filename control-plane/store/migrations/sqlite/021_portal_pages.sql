-- arcsim store, version 21 (issue 15, portal): the alert and incident pages read one page of a
-- filtered, sorted list; these indexes keep that a range read with 10,000 alerts. Saved hunting
-- queries, one set per API key name.

-- Alerts blade: last active first (020 has end_time alone), by severity, status or machine.
CREATE INDEX IF NOT EXISTS alerts_severity_time ON alerts(severity, end_time);
CREATE INDEX IF NOT EXISTS alerts_status_time ON alerts(status, end_time);
CREATE INDEX IF NOT EXISTS alerts_resource_time ON alerts(resource_id, end_time);
-- Product view (MDC / MDE / M365D / Sentinel) with that product's status.
CREATE INDEX IF NOT EXISTS alert_copies_product ON alert_copies(product, status, system_alert_id);
-- Incidents queue: newest first.
CREATE INDEX IF NOT EXISTS incidents_created ON incidents(created_at, incident_id);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents(status, created_at);

CREATE TABLE IF NOT EXISTS saved_queries (
  owner       TEXT NOT NULL,         -- the API key's name (a person or a service)
  name        TEXT NOT NULL,
  query       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (owner, name)
);
