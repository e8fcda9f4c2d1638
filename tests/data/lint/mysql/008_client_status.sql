-- @name: A required status (MySQL fills existing rows with '')
-- @expect-lint:

-- UP
ALTER TABLE clients ADD COLUMN status VARCHAR(10) NOT NULL;
ALTER TABLE clients ADD COLUMN note TEXT;

-- DOWN
ALTER TABLE clients DROP COLUMN note;
ALTER TABLE clients DROP COLUMN status;
