-- @name: Tags become labels
-- @expect-lint: rename

-- UP
ALTER TABLE tags RENAME TO labels;

-- DOWN
ALTER TABLE labels RENAME TO tags;
