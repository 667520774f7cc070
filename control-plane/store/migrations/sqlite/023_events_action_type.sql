-- arcsim store, version 23 (issue 15, portal page time): the device timeline filtered by action
-- type (`/portal/machines/{name}?action=FileCreated`) read every event of the machine through
-- (agent_id, ts) and decoded each row's JSON to find the few that match: 240 ms of CPU for a rare
-- action type on a machine with 100,000 events. An index on the expression the query names
-- (`json_extract(data, '$.ActionType')`, the same text, so SQLite matches it) after the agent makes
-- that a range read of the matching rows, newest first by ts. Events without an ActionType index
-- as NULL. The scratch store of `arcsim detect` drops it (SCRATCH_DROPPED_INDEXES): no timeline there.
CREATE INDEX IF NOT EXISTS events_agent_action_ts ON events(agent_id, json_extract(data, '$.ActionType'), ts);
