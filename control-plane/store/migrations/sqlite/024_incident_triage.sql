-- arcsim store, version 24 (issue 15 item 6): an incident's triage as in Defender XDR's "Manage
-- incident" pane and the Graph incident resource: classification, determination (Graph enum
-- members, 'unknown' until set) and the owner (assignedTo, free text, NULL when unassigned).
-- The sync audit names the field a row changed ('status' for every row written before).
ALTER TABLE incidents ADD COLUMN classification TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE incidents ADD COLUMN determination TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE incidents ADD COLUMN assigned_to TEXT;
ALTER TABLE sync_audit ADD COLUMN field TEXT NOT NULL DEFAULT 'status';
-- The incidents queue filtered by owner or classification, newest first.
CREATE INDEX IF NOT EXISTS incidents_assigned ON incidents(assigned_to, created_at);
CREATE INDEX IF NOT EXISTS incidents_classification ON incidents(classification, created_at);
