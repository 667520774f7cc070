-- arcsim store, version 1: identity, Arc machines, events, rule state, alerts.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE enrollment_tokens (
  id             TEXT PRIMARY KEY,
  token_hash     TEXT NOT NULL UNIQUE,
  subscription   TEXT NOT NULL,
  resource_group TEXT NOT NULL,
  location       TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  revoked_at     INTEGER,
  uses           INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE agents (
  agent_id       TEXT PRIMARY KEY,
  key_hash       TEXT NOT NULL,
  token_id       TEXT NOT NULL REFERENCES enrollment_tokens(id),
  subscription   TEXT NOT NULL,
  resource_group TEXT NOT NULL,
  location       TEXT NOT NULL,
  hostname       TEXT,
  enrolled_at    INTEGER NOT NULL
);

CREATE TABLE machines (
  agent_id           TEXT PRIMARY KEY REFERENCES agents(agent_id),
  resource_id        TEXT NOT NULL UNIQUE,
  name               TEXT NOT NULL,
  facts              TEXT NOT NULL,
  sql_instances      TEXT NOT NULL DEFAULT '[]',
  extensions         TEXT NOT NULL DEFAULT '[]',
  status             TEXT NOT NULL,
  last_heartbeat     INTEGER NOT NULL,
  last_status_change INTEGER NOT NULL,
  registered_at      INTEGER NOT NULL
);

CREATE TABLE events (
  report_id     TEXT PRIMARY KEY,
  agent_id      TEXT NOT NULL,
  tbl           TEXT NOT NULL,
  ts            INTEGER NOT NULL,
  detonation_id TEXT,
  data          TEXT NOT NULL,
  received_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_agent_ts ON events(agent_id, ts);
CREATE INDEX events_detonation ON events(detonation_id) WHERE detonation_id IS NOT NULL;

-- Matches of correlation base rules, kept in the store so windows survive a restart.
CREATE TABLE rule_hits (
  rule_id       TEXT NOT NULL,
  group_key     TEXT NOT NULL,
  event_time    INTEGER NOT NULL,
  report_id     TEXT NOT NULL,
  detonation_id TEXT,
  value         TEXT,
  PRIMARY KEY (rule_id, report_id)
);
CREATE INDEX rule_hits_group ON rule_hits(rule_id, group_key, event_time);

CREATE TABLE alerts (
  system_alert_id TEXT PRIMARY KEY,
  dedup_key       TEXT NOT NULL,
  alert_type      TEXT NOT NULL,
  rule_id         TEXT NOT NULL,
  agent_id        TEXT NOT NULL,
  resource_id     TEXT NOT NULL,
  severity        TEXT NOT NULL,
  status          TEXT NOT NULL,
  count           INTEGER NOT NULL,
  start_time      INTEGER NOT NULL,
  end_time        INTEGER NOT NULL,
  time_generated  INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  properties      TEXT NOT NULL
);
CREATE INDEX alerts_dedup ON alerts(dedup_key, end_time);
CREATE INDEX alerts_filter ON alerts(severity, status);

CREATE TABLE alert_events (
  system_alert_id TEXT NOT NULL REFERENCES alerts(system_alert_id),
  report_id       TEXT NOT NULL,
  detonation_id   TEXT,
  PRIMARY KEY (system_alert_id, report_id)
) WITHOUT ROWID;
CREATE INDEX alert_events_detonation ON alert_events(detonation_id);
