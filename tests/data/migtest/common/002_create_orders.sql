-- @name: Create orders
-- @type: table_creation
-- @dependencies: ["001_create_users"]

-- UP
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
    amount DECIMAL(10, 2) NOT NULL CHECK (amount > 0),
    FOREIGN KEY (user_id) REFERENCES users (id)
);
CREATE INDEX idx_orders_status ON orders (status);

-- DOWN
DROP TABLE orders;
