-- arcsim store, version 8 (PostgreSQL port of sqlite/008_key_lifecycle.sql, issue 12): enrollment
-- tokens with a use limit, agent keys that can be revoked and rotated.

-- Most enrollments a token allows; NULL = no limit (tokens made before this version).
ALTER TABLE enrollment_tokens ADD COLUMN max_uses INTEGER;

-- Set when the agent's key was revoked (by hand, by a cascading token revoke, or because its
-- machine was deleted): the agent is refused at the upgrade with ARCSIM_E_AGENT_REVOKED.
ALTER TABLE agents ADD COLUMN revoked_at BIGINT;
ALTER TABLE agents ADD COLUMN revoked_reason TEXT;
-- Hash of a key being rotated in: sent to the agent, not yet acknowledged. Both keys open the
-- socket until the agent acknowledges (or connects with the new key); then only the new one does.
ALTER TABLE agents ADD COLUMN pending_key_hash TEXT;
CREATE INDEX agents_token ON agents(token_id);
