-- @name: Active users view
-- @type: table_creation
-- @dependencies: ["001_create_users"]
-- Planted mistake: DOWN drops the index but leaves the view.

-- UP
CREATE OR REPLACE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE INDEX idx_users_status ON users (status);

-- DOWN
DROP INDEX idx_users_status;
