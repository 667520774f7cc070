-- arcsim store, version 23 (issue 15, portal page time): the device timeline filtered by action
-- type (`/portal/machines/{name}?action=FileCreated`) read every event of the machine through
-- (agent_id, ts) and decoded each row's JSON to find the few that match. An index on the
-- expression the query names (`data->>'ActionType'`) after the agent makes that a range read of
-- the matching rows, newest first by ts. Events without an ActionType index as NULL.
CREATE INDEX IF NOT EXISTS events_agent_action_ts ON events(agent_id, (data->>'ActionType'), ts);
