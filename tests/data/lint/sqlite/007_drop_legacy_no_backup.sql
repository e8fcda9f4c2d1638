-- @name: Drop notes.legacy without a backup
-- @reversible: false
-- @backup_required: false
-- @expect-lint: destructive-without-backup

-- UP
ALTER TABLE notes DROP COLUMN legacy;
