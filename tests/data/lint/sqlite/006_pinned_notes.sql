-- @name: Pinned notes
-- @expect-lint:

-- UP
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;

-- DOWN
ALTER TABLE notes DROP COLUMN pinned;
