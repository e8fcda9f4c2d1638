-- @name: Index orders by status, the right way
-- @transactional: false
-- @expect-lint:

-- UP
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_status ON orders (status);

-- DOWN
DROP INDEX CONCURRENTLY IF EXISTS idx_orders_status;
