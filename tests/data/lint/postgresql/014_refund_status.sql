-- @name: Orders can be refunded (PostgreSQL 11 in production)
-- @reversible: false
-- @expect-lint: non-transactional-statement

-- UP
ALTER TYPE order_status ADD VALUE 'refunded';
