-- arcsim store, version 1 (PostgreSQL port of sqlite/001_init.sql): identity, Arc machines, events,
-- rule state, alerts. Times are epoch milliseconds (BIGINT). Key and sort columns are COLLATE "C"
-- so ORDER BY and comparisons are bytewise like SQLite's BINARY collation, whatever the database's
-- locale; JSON columns are `json` (not jsonb) so objects come back with their keys in the order written.
CREATE TABLE settings (
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE enrollment_tokens (
  id             TEXT COLLATE "C" PRIMARY KEY,
  token_hash     TEXT COLLATE "C" NOT NULL UNIQUE,
  subscription   TEXT NOT NULL,
  resource_group TEXT NOT NULL,
  location       TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  revoked_at     BIGINT,
  uses           INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE agents (
  agent_id       TEXT COLLATE "C" PRIMARY KEY,
  key_hash       TEXT NOT NULL,
  token_id       TEXT COLLATE "C" NOT NULL REFERENCES enrollment_tokens(id),
  subscription   TEXT NOT NULL,
  resource_group TEXT NOT NULL,
  location       TEXT NOT NULL,
  hostname       TEXT,
  enrolled_at    BIGINT NOT NULL
);

CREATE TABLE machines (
  agent_id           TEXT COLLATE "C" PRIMARY KEY REFERENCES agents(agent_id),
  resource_id        TEXT COLLATE "C" NOT NULL UNIQUE,
  name               TEXT COLLATE "C" NOT NULL,
  facts              JSON NOT NULL,
  sql_instances      JSON NOT NULL DEFAULT '[]',
  extensions         JSON NOT NULL DEFAULT '[]',
  status             TEXT NOT NULL,
  last_heartbeat     BIGINT NOT NULL,
  last_status_change BIGINT NOT NULL,
  registered_at      BIGINT NOT NULL
);

CREATE TABLE events (
  report_id     TEXT COLLATE "C" PRIMARY KEY,
  agent_id      TEXT COLLATE "C" NOT NULL,
  tbl           TEXT NOT NULL,
  ts            BIGINT NOT NULL,
  detonation_id TEXT COLLATE "C",
  data          JSON NOT NULL,
  received_at   BIGINT NOT NULL
);
CREATE INDEX events_agent_ts ON events(agent_id, ts);
CREATE INDEX events_detonation ON events(detonation_id) WHERE detonation_id IS NOT NULL;

-- Matches of correlation base rules, kept in the store so windows survive a restart.
CREATE TABLE rule_hits (
  rule_id       TEXT COLLATE "C" NOT NULL,
  group_key     TEXT COLLATE "C" NOT NULL,
  event_time    BIGINT NOT NULL,
  report_id     TEXT COLLATE "C" NOT NULL,
  detonation_id TEXT,
  value         TEXT,
  PRIMARY KEY (rule_id, report_id)
);
CREATE INDEX rule_hits_group ON rule_hits(rule_id, group_key, event_time);

CREATE TABLE alerts (
  system_alert_id TEXT COLLATE "C" PRIMARY KEY,
  dedup_key       TEXT COLLATE "C" NOT NULL,
  alert_type      TEXT NOT NULL,
  rule_id         TEXT NOT NULL,
  agent_id        TEXT NOT NULL,
  resource_id     TEXT NOT NULL,
  severity        TEXT NOT NULL,
  status          TEXT NOT NULL,
  count           INTEGER NOT NULL,
  start_time      BIGINT NOT NULL,
  end_time        BIGINT NOT NULL,
  time_generated  BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  properties      JSON NOT NULL
);
CREATE INDEX alerts_dedup ON alerts(dedup_key, end_time);
CREATE INDEX alerts_filter ON alerts(severity, status);

CREATE TABLE alert_events (
  system_alert_id TEXT COLLATE "C" NOT NULL REFERENCES alerts(system_alert_id),
  report_id       TEXT COLLATE "C" NOT NULL,
  detonation_id   TEXT COLLATE "C",
  PRIMARY KEY (system_alert_id, report_id)
);
CREATE INDEX alert_events_detonation ON alert_events(detonation_id);
