-- arcsim store, version 4: dedup by upsert, product copies with their own status, sync audit, incidents.

-- The open alert of each dedup key: one row per key, so deciding "fold into the open alert or
-- start a new one" is a single upsert on a unique key, and concurrent replicas agree.
CREATE TABLE alert_dedup (
  dedup_key       TEXT PRIMARY KEY,
  system_alert_id TEXT NOT NULL,
  last_time       INTEGER NOT NULL
);
INSERT INTO alert_dedup (dedup_key, system_alert_id, last_time)
  SELECT dedup_key, system_alert_id, MAX(end_time) FROM alerts GROUP BY dedup_key;
ALTER TABLE alerts ADD COLUMN latency_ms REAL;

-- Each product view that shows an alert has its own copy, id and status.
CREATE TABLE alert_copies (
  system_alert_id TEXT NOT NULL REFERENCES alerts(system_alert_id),
  product         TEXT NOT NULL,
  copy_id         TEXT NOT NULL,
  status          TEXT NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (system_alert_id, product)
) WITHOUT ROWID;
CREATE UNIQUE INDEX alert_copies_id ON alert_copies(copy_id, product);

-- Every status change, the one asked for and each one propagated by the sync matrix.
CREATE TABLE sync_audit (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  at              INTEGER NOT NULL,
  subject         TEXT NOT NULL,           -- 'alert' or 'incident'
  subject_id      TEXT NOT NULL,
  product         TEXT NOT NULL,
  from_status     TEXT NOT NULL,
  to_status       TEXT NOT NULL,
  origin_product  TEXT NOT NULL,
  via_product     TEXT,                    -- NULL for the change itself
  reason          TEXT NOT NULL
);
CREATE INDEX sync_audit_subject ON sync_audit(subject, subject_id);

-- Entities an alert names, for incident correlation (asset, account, ip).
CREATE TABLE alert_entities (
  system_alert_id TEXT NOT NULL,
  kind            TEXT NOT NULL,
  value           TEXT NOT NULL,
  time            INTEGER NOT NULL,
  PRIMARY KEY (system_alert_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX alert_entities_lookup ON alert_entities(kind, value, time);

CREATE TABLE incidents (
  incident_id     TEXT PRIMARY KEY,
  title           TEXT NOT NULL,
  severity        TEXT NOT NULL,
  status          TEXT NOT NULL,           -- M365D status
  sentinel_status TEXT,                    -- the Sentinel incident's status when Sentinel is enabled
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  first_activity  INTEGER NOT NULL,
  last_activity   INTEGER NOT NULL,
  redirected_to   TEXT
);

CREATE TABLE incident_alerts (
  incident_id     TEXT NOT NULL REFERENCES incidents(incident_id),
  system_alert_id TEXT NOT NULL UNIQUE,
  added_at        INTEGER NOT NULL,
  PRIMARY KEY (incident_id, system_alert_id)
);
