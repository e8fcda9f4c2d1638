-- @name: Index orders by status and user
-- @type: index_management
-- @dependencies: ["002_create_orders"]
-- Planted mistake: DOWN also drops an index this migration did not create.

-- UP
CREATE INDEX idx_orders_status_user ON orders (status, user_id);

-- DOWN
DROP INDEX idx_orders_status_user;
DROP INDEX idx_orders_status;
