-- @name: Widen orders.amount
-- @expect-lint: alter-column-type

-- UP
ALTER TABLE orders ALTER COLUMN amount TYPE numeric(14, 2);

-- DOWN
ALTER TABLE orders ALTER COLUMN amount TYPE numeric(12, 2);
