-- @name: Drop the product SKU
-- @type: table_modification
-- @dependencies: ["003_create_products"]
-- Planted mistake: DOWN restores the column without its NOT NULL.

-- UP
ALTER TABLE products DROP COLUMN sku;

-- DOWN
ALTER TABLE products ADD COLUMN sku VARCHAR(40);
