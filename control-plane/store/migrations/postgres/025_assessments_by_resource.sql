-- arcsim store, version 25 (issue 16, goal 4): a machine's assessments looked up by resource.
-- The primary key leads with assessment_key, so `assessmentsFor(resource_id IN …)`, run for every
-- registration group, scanned the whole table: registering N machines cost O(N²) rows read
-- (3,000 agents: 24 s to connect, half of it in this scan). This index makes it a range read.
CREATE INDEX IF NOT EXISTS assessments_resource ON assessments(resource_id, assessment_key);
