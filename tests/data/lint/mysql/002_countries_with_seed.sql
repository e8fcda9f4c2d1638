-- @name: Countries, created and seeded at once
-- @expect-lint: mysql-ddl-with-dml

-- UP
CREATE TABLE countries (code CHAR(2) PRIMARY KEY, name VARCHAR(80) NOT NULL);
INSERT INTO countries (code, name) VALUES ('FR', 'France'), ('DE', 'Germany');

-- DOWN
DROP TABLE IF EXISTS countries;
