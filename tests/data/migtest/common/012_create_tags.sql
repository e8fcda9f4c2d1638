-- @name: Create tags
-- @type: table_creation

-- UP
CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    label VARCHAR(50) NOT NULL UNIQUE
);

-- DOWN
DROP TABLE tags;
