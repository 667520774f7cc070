-- arcsim store, version 5: CSPM connectors and their resources, assets (merged view of one
-- machine), Defender plans, recommendations (assessments), alert detection sources, machine tags.
-- Portable SQL: TEXT / INTEGER columns, JSON kept as TEXT, no SQLite-only functions.

CREATE TABLE connectors (
  name           TEXT PRIMARY KEY,
  provider       TEXT NOT NULL,            -- 'AWS' | 'GCP'
  account_id     TEXT NOT NULL,            -- AWS account id or GCP project id
  subscription   TEXT NOT NULL,
  resource_group TEXT NOT NULL,
  location       TEXT NOT NULL,
  config         TEXT NOT NULL,            -- the whole connector definition (JSON)
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);

-- What a connector discovered by API. A resource missing from a later snapshot of its kind
-- keeps its row with deleted_at set; it is never silently dropped.
CREATE TABLE cspm_resources (
  connector    TEXT NOT NULL REFERENCES connectors(name),
  kind         TEXT NOT NULL,              -- aws-ec2-instance | aws-security-group | gcp-compute-instance | gcp-firewall-rule
  native_id    TEXT NOT NULL,              -- InstanceId, GroupId, GCE numeric id, firewall id
  resource_id  TEXT NOT NULL,
  name         TEXT NOT NULL,
  region       TEXT NOT NULL,
  state        TEXT NOT NULL,
  data         TEXT NOT NULL,              -- normalised fields (JSON)
  first_seen   INTEGER NOT NULL,
  last_seen    INTEGER NOT NULL,
  deleted_at   INTEGER,
  PRIMARY KEY (connector, kind, native_id)
);
CREATE INDEX cspm_resources_rid ON cspm_resources(resource_id);

CREATE TABLE cspm_snapshots (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  connector   TEXT NOT NULL,
  kind        TEXT NOT NULL,
  source      TEXT NOT NULL,               -- 'api' | 'cli' | 'pull'
  taken_at    INTEGER NOT NULL,
  resources   INTEGER NOT NULL,
  added       INTEGER NOT NULL,
  changed     INTEGER NOT NULL,
  deleted     INTEGER NOT NULL
);

-- The merge result, recomputed (deterministically) whenever either side changes.
CREATE TABLE assets (
  asset_id    TEXT PRIMARY KEY,
  asset_key   TEXT NOT NULL UNIQUE,
  confidence  TEXT NOT NULL,               -- 'single' | 'strong' | 'probable'
  conflicts   TEXT NOT NULL,               -- JSON array
  reasons     TEXT NOT NULL,               -- JSON array: why the sources were merged
  updated_at  INTEGER NOT NULL
);

CREATE TABLE asset_sources (
  source_kind TEXT NOT NULL,               -- 'arc' | 'cspm'
  source_id   TEXT NOT NULL,               -- the source's resource id
  asset_id    TEXT NOT NULL,
  PRIMARY KEY (source_kind, source_id)
);
CREATE INDEX asset_sources_asset ON asset_sources(asset_id);

-- Defender plans per subscription or per connector (pricing names: VirtualMachines, SqlServerVirtualMachines).
CREATE TABLE plans (
  scope_kind  TEXT NOT NULL,               -- 'subscription' | 'connector'
  scope       TEXT NOT NULL,
  plan        TEXT NOT NULL,
  sub_plan    TEXT,
  enabled     INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (scope_kind, scope, plan)
);

-- One assessment per (recommendation, resource); rows change only when the status changes.
CREATE TABLE assessments (
  assessment_key TEXT NOT NULL,
  resource_id    TEXT NOT NULL,
  subscription   TEXT NOT NULL,
  status         TEXT NOT NULL,            -- 'Healthy' | 'Unhealthy'
  details        TEXT NOT NULL,            -- JSON
  first_seen     INTEGER NOT NULL,
  status_changed INTEGER NOT NULL,
  PRIMARY KEY (assessment_key, resource_id)
);

-- Every path a detection reached the control plane by (agent sensor, CSPM agentless finding).
CREATE TABLE alert_sources (
  system_alert_id TEXT NOT NULL,
  kind            TEXT NOT NULL,           -- 'agent' | 'cspm'
  resource_id     TEXT NOT NULL,
  detail          TEXT NOT NULL,           -- detecting product or connector name
  first_time      INTEGER NOT NULL,
  last_time       INTEGER NOT NULL,
  count           INTEGER NOT NULL,
  PRIMARY KEY (system_alert_id, kind, resource_id)
);

-- ARM tags on Arc machines (MDC writes AccountId/InstanceId/... on the machines it onboards).
ALTER TABLE machines ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
