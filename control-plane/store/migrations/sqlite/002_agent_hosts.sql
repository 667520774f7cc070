-- arcsim store, version 2 (issue #3): cloned-identity conflicts and events not collected.

-- One row each time an agent identity that is live on one host registers from another host.
CREATE TABLE identity_conflicts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id        TEXT NOT NULL REFERENCES agents(agent_id),
  detected_at     INTEGER NOT NULL,
  -- The facts of the live connection (kept) and of the refused newcomer, as JSON.
  existing_facts  TEXT NOT NULL,
  newcomer_facts  TEXT NOT NULL,
  remote_address  TEXT,
  -- Which facts differ, e.g. "hostname,vmUuid,macAddresses".
  differences     TEXT NOT NULL
);
CREATE INDEX identity_conflicts_agent ON identity_conflicts(agent_id, detected_at);

-- Per table, events a scenario produced that no installed extension's sensor collected (JSON map).
ALTER TABLE machines ADD COLUMN not_collected TEXT NOT NULL DEFAULT '{}';
