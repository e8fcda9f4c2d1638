-- @name: Add a required region to accounts
-- @expect-lint: add-column-not-null-without-default

-- UP
ALTER TABLE accounts ADD COLUMN region text NOT NULL;

-- DOWN
ALTER TABLE accounts DROP COLUMN region;
