-- @name: Index orders by account, concurrently but inside a transaction
-- @expect-lint: non-transactional-statement

-- UP
CREATE INDEX CONCURRENTLY idx_orders_account ON orders (account_id);

-- DOWN
DROP INDEX IF EXISTS idx_orders_account;
