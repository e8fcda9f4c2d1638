-- @name: Add the users' time zone
-- @type: table_modification
-- @dependencies: ["001_create_users"]
-- Planted mistake: DOWN drops the index but leaves the column.

-- UP
ALTER TABLE users ADD COLUMN timezone VARCHAR(50) NOT NULL DEFAULT 'UTC';
CREATE INDEX idx_users_timezone ON users (timezone);

-- DOWN
DROP INDEX idx_users_timezone ON users;
