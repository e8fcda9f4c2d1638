-- @name: clients.name becomes full_name
-- @expect-lint: rename

-- UP
ALTER TABLE clients CHANGE name full_name VARCHAR(200) NOT NULL;

-- DOWN
ALTER TABLE clients CHANGE full_name name VARCHAR(100) NOT NULL;
