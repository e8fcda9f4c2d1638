-- @name: Orders may carry a coupon account, checked later
-- @expect-lint:

-- UP
ALTER TABLE orders ADD COLUMN coupon_account_id bigint;
ALTER TABLE orders ADD CONSTRAINT fk_orders_coupon
    FOREIGN KEY (coupon_account_id) REFERENCES accounts (id) NOT VALID;

-- DOWN
ALTER TABLE orders DROP COLUMN coupon_account_id;
