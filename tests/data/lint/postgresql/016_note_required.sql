-- @name: Notes become required
-- @expect-lint: set-not-null

-- UP
ALTER TABLE accounts ALTER COLUMN note SET NOT NULL;

-- DOWN
ALTER TABLE accounts ALTER COLUMN note DROP NOT NULL;
