-- Adapted for MySQL/MariaDB from migrations/004: AUTOINCREMENT is spelled AUTO_INCREMENT;
-- the UNIQUE and indexed TEXT columns became VARCHAR; the column-level REFERENCES became
-- table-level FOREIGN KEYs (MySQL ignores REFERENCES written on a column). DOWN drops the
-- table, which takes its indexes along: MySQL refuses to drop an index that a foreign key has
-- come to rely on (idx_trades_user_executed replaces the key's own index on user_id).
-- Everything else is as written.
-- @name: Create Trades Table
-- @description: Executed trades, linked to their order and user, with commission and fees
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: ["001_create_users_table", "003_create_orders_table"]
-- @reversible: true
-- @backup_required: true

-- UP
CREATE TABLE trades (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    trade_id VARCHAR(64) UNIQUE NOT NULL,
    order_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    symbol VARCHAR(32) NOT NULL,
    side VARCHAR(4) NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity DECIMAL(20,8) NOT NULL CHECK (quantity > 0),
    price DECIMAL(20,8) NOT NULL CHECK (price > 0),
    commission DECIMAL(20,8) NOT NULL DEFAULT 0 CHECK (commission >= 0),
    fees DECIMAL(20,8) NOT NULL DEFAULT 0 CHECK (fees >= 0),
    executed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (order_id) REFERENCES orders(id),
    FOREIGN KEY (user_id) REFERENCES users(id)
);

CREATE INDEX idx_trades_order ON trades(order_id);
CREATE INDEX idx_trades_user_executed ON trades(user_id, executed_at);

-- DOWN
DROP TABLE IF EXISTS trades;
