-- @name: Rename tags to labels
-- @type: table_modification
-- @dependencies: ["013_add_tag_color"]

-- UP
ALTER TABLE tags RENAME TO labels;

-- DOWN
ALTER TABLE labels RENAME TO tags;
