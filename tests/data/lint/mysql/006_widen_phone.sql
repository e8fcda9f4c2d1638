-- @name: Longer phone numbers
-- @expect-lint: alter-column-type

-- UP
ALTER TABLE clients MODIFY phone VARCHAR(40);

-- DOWN
ALTER TABLE clients MODIFY phone VARCHAR(20);
