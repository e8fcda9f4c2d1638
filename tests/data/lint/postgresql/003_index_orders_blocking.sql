-- @name: Index orders by date
-- @expect-lint: index-without-concurrently

-- UP
CREATE INDEX idx_orders_created ON orders (created_at);

-- DOWN
DROP INDEX idx_orders_created;
