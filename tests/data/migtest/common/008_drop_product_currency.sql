-- @name: Drop the product currency
-- @type: table_modification
-- @dependencies: ["003_create_products"]
-- Planted mistake: DOWN restores the column without its default.

-- UP
ALTER TABLE products DROP COLUMN currency;

-- DOWN
ALTER TABLE products ADD COLUMN currency VARCHAR(3);
