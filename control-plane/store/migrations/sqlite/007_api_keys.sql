-- arcsim store, version 7 (issue 12): API keys with roles, and the audit log of every write.

-- Keys are stored only as SHA-256 hashes (auth/secrets.ts); the clear key is shown once, at creation.
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL,            -- reader | responder | contributor | admin
  key_hash     TEXT NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  created_by   TEXT NOT NULL,            -- the caller that created it (audit)
  revoked_at   INTEGER,
  last_used_at INTEGER
);

-- One row per API request that changes state (any method but GET/HEAD/OPTIONS), refused ones too.
CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,
  who        TEXT NOT NULL,              -- key name, `admin`, `process`, or `unknown` when no valid key was shown
  key_id     TEXT,                       -- api_keys.id when a stored key was used
  role       TEXT,                       -- the key's role; NULL when unauthenticated
  method     TEXT NOT NULL,
  route      TEXT NOT NULL,              -- the route pattern, e.g. /api/keys/:id
  target     TEXT NOT NULL,              -- the request path, e.g. /api/keys/k_123
  status     INTEGER NOT NULL,           -- the HTTP status answered
  remote     TEXT                        -- the client address
);
CREATE INDEX audit_log_at ON audit_log(at);
