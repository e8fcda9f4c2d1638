-- @name: Create products
-- @type: table_creation

-- UP
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    price DECIMAL(10, 2) NOT NULL,
    currency VARCHAR(3) DEFAULT 'EUR',
    sku VARCHAR(40) NOT NULL
);

-- DOWN
DROP TABLE products;
