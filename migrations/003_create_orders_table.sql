-- @name: Create Orders Table
-- @description: Trading orders with side, type and status validation
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: ["001_create_users_table"]
-- @reversible: true
-- @backup_required: true

-- UP
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT UNIQUE NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type TEXT NOT NULL CHECK (order_type IN ('market', 'limit', 'stop', 'stop_limit')),
    quantity DECIMAL(20,8) NOT NULL CHECK (quantity > 0),
    price DECIMAL(20,8) CHECK (price IS NULL OR price > 0),
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'open', 'partially_filled', 'filled', 'cancelled', 'rejected')),
    filled_quantity DECIMAL(20,8) NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (filled_quantity <= quantity),
    CHECK (order_type = 'market' OR price IS NOT NULL)
);

CREATE INDEX idx_orders_user_status ON orders(user_id, status);
CREATE INDEX idx_orders_symbol_created ON orders(symbol, created_at);

-- Keep updated_at current; the body holds semicolons of its own.
CREATE TRIGGER trg_orders_touch AFTER UPDATE OF status, filled_quantity ON orders
BEGIN
    UPDATE orders SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;

-- DOWN
DROP TRIGGER IF EXISTS trg_orders_touch;
DROP INDEX IF EXISTS idx_orders_symbol_created;
DROP INDEX IF EXISTS idx_orders_user_status;
DROP TABLE IF EXISTS orders;
