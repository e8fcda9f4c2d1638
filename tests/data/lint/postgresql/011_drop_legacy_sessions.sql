-- @name: Drop legacy sessions without a backup
-- @reversible: false
-- @backup_required: false
-- @expect-lint: destructive-without-backup

-- UP
DROP TABLE legacy_sessions;
