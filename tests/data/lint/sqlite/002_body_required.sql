-- @name: Note bodies become required, as on PostgreSQL
-- @reversible: false
-- @expect-lint: sqlite-unsupported-alter

-- UP
ALTER TABLE notes ALTER COLUMN body SET NOT NULL;
