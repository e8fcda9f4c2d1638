-- @name: Notes get a required author
-- @expect-lint: add-column-not-null-without-default

-- UP
ALTER TABLE notes ADD COLUMN author TEXT NOT NULL;

-- DOWN
ALTER TABLE notes DROP COLUMN author;
