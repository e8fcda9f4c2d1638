-- @name: Empty tags without a backup
-- @reversible: false
-- @backup_required: false
-- @expect-lint: destructive-without-backup

-- UP
TRUNCATE TABLE tags;
