-- @name: Orders remember who referred them
-- @expect-lint: foreign-key-without-not-valid

-- UP
ALTER TABLE orders ADD COLUMN referrer_id bigint;
ALTER TABLE orders ADD CONSTRAINT fk_orders_referrer
    FOREIGN KEY (referrer_id) REFERENCES accounts (id);

-- DOWN
ALTER TABLE orders DROP COLUMN referrer_id;
