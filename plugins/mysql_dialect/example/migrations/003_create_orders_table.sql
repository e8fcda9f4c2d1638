-- Adapted for MySQL/MariaDB from migrations/003: AUTOINCREMENT is spelled AUTO_INCREMENT;
-- the UNIQUE and indexed TEXT columns became VARCHAR; the column-level REFERENCES became a
-- table-level FOREIGN KEY (MySQL ignores REFERENCES written on a column). MySQL triggers
-- cannot UPDATE their own table and have no UPDATE OF columns, so the trigger runs BEFORE
-- UPDATE and sets NEW.updated_at when status or filled_quantity changed (its BEGIN ... END
-- body needs no DELIMITER). DOWN drops the trigger and the table, which takes its indexes
-- along: MySQL refuses to drop an index that a foreign key has come to rely on.
-- @name: Create Orders Table
-- @description: Trading orders with side, type and status validation
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: ["001_create_users_table"]
-- @reversible: true
-- @backup_required: true

-- UP
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    order_id VARCHAR(64) UNIQUE NOT NULL,
    user_id INTEGER NOT NULL,
    symbol VARCHAR(32) NOT NULL,
    side VARCHAR(4) NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type VARCHAR(16) NOT NULL CHECK (order_type IN ('market', 'limit', 'stop', 'stop_limit')),
    quantity DECIMAL(20,8) NOT NULL CHECK (quantity > 0),
    price DECIMAL(20,8) CHECK (price IS NULL OR price > 0),
    status VARCHAR(16) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'open', 'partially_filled', 'filled', 'cancelled', 'rejected')),
    filled_quantity DECIMAL(20,8) NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (filled_quantity <= quantity),
    CHECK (order_type = 'market' OR price IS NOT NULL),
    FOREIGN KEY (user_id) REFERENCES users(id)
);

CREATE INDEX idx_orders_user_status ON orders(user_id, status);
CREATE INDEX idx_orders_symbol_created ON orders(symbol, created_at);

-- Keep updated_at current; the body holds semicolons of its own.
CREATE TRIGGER trg_orders_touch BEFORE UPDATE ON orders
FOR EACH ROW
BEGIN
    IF NOT (NEW.status <=> OLD.status) OR NOT (NEW.filled_quantity <=> OLD.filled_quantity) THEN
        SET NEW.updated_at = CURRENT_TIMESTAMP;
    END IF;
END;

-- DOWN
DROP TRIGGER IF EXISTS trg_orders_touch;
DROP TABLE IF EXISTS orders;
