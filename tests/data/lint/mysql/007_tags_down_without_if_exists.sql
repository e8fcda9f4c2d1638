-- @name: Tags
-- @expect-lint: down-drop-without-if-exists

-- UP
CREATE TABLE tags (id BIGINT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(50) NOT NULL);

-- DOWN
DROP TABLE tags;
