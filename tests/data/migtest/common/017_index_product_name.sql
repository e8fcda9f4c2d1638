-- @name: Index products by name
-- @type: index_management
-- @dependencies: ["003_create_products"]
-- Planted mistake: a typo in DOWN's index name, hidden by IF EXISTS, leaves the index.

-- UP
CREATE INDEX idx_products_name ON products (name);

-- DOWN
DROP INDEX IF EXISTS idx_product_name;
