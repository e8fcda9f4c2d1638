-- @name: A check constraint with a typo
-- @expect-lint: unparsable-statement

-- UP
ALTER TABLE orders ADD CONSTRAINT chk_amount CHECK (amount >= );

-- DOWN
ALTER TABLE orders DROP CONSTRAINT chk_amount;
