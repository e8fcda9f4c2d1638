-- @name: Validate the coupon foreign key
-- @reversible: false
-- @expect-lint:

-- UP
ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_coupon;
