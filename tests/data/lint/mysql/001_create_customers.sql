-- @name: Create customers
-- @expect-lint:

-- UP
CREATE TABLE customers (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    phone VARCHAR(20),
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_customers_name (name)
) ENGINE=InnoDB;

-- DOWN
DROP TABLE IF EXISTS customers;
