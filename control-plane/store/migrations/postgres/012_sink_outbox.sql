-- arcsim store, version 12 (issue 14): the outbox of alert changes that sinks (syslog, webhooks)
-- carry. A row is written in the transaction that creates an alert or changes its status, so a
-- crash or a receiver that is down loses nothing; each sink records what it delivered.

CREATE TABLE alert_outbox (
  id              BIGSERIAL PRIMARY KEY,
  system_alert_id TEXT NOT NULL,
  change          TEXT NOT NULL,           -- 'created' | 'status'
  status          TEXT NOT NULL,           -- the alert's status after the change
  at              BIGINT NOT NULL          -- when the change was made, epoch ms
);

-- One row per change a sink delivered (acknowledged by the receiver).
CREATE TABLE sink_deliveries (
  sink         TEXT NOT NULL,
  change_id    BIGINT NOT NULL,
  delivered_at BIGINT NOT NULL,
  attempts     INTEGER NOT NULL,
  PRIMARY KEY (sink, change_id)
);

-- A sink carries the changes after `start_after` (the outbox's last id when it was first configured).
CREATE TABLE sink_state (
  sink        TEXT PRIMARY KEY,
  start_after BIGINT NOT NULL,
  created_at  BIGINT NOT NULL
);
