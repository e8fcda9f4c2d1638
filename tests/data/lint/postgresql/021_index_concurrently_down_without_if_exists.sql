-- @name: Index on orders by referrer
-- @transactional: false
-- @expect-lint: down-drop-without-if-exists

-- UP
CREATE INDEX CONCURRENTLY idx_orders_referrer ON orders (referrer_id);

-- DOWN
DROP INDEX CONCURRENTLY idx_orders_referrer;
