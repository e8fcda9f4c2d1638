-- @name: Add a tier with a default
-- @expect-lint:

-- UP
ALTER TABLE accounts ADD COLUMN tier text NOT NULL DEFAULT 'free';
ALTER TABLE accounts ADD COLUMN note text;

-- DOWN
ALTER TABLE accounts DROP COLUMN note;
ALTER TABLE accounts DROP COLUMN tier;
