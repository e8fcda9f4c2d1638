-- @name: Add a colour to tags
-- @type: table_modification
-- @dependencies: ["012_create_tags"]
-- Planted mistake: DOWN rebuilds the table empty (the schema comes back, the rows do not).

-- UP
ALTER TABLE tags ADD COLUMN color VARCHAR(20);

-- DOWN
DROP TABLE tags;
CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    label VARCHAR(50) NOT NULL UNIQUE
);
