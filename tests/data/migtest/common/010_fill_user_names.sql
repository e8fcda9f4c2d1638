-- @name: Fill missing user names
-- @type: data_migration
-- @dependencies: ["001_create_users"]
-- Planted mistake: reversible (the default) but DOWN has nothing to run.

-- UP
UPDATE users SET name = email WHERE name IS NULL;

-- DOWN
;
