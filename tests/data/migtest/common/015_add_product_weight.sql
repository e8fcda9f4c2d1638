-- @name: Add the product weight
-- @type: table_modification
-- @dependencies: ["003_create_products"]

-- UP
ALTER TABLE products ADD COLUMN weight DECIMAL(8, 3);

-- DOWN
ALTER TABLE products DROP COLUMN weight;
