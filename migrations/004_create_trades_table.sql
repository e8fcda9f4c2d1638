-- @name: Create Trades Table
-- @description: Executed trades, linked to their order and user, with commission and fees
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: ["001_create_users_table", "003_create_orders_table"]
-- @reversible: true
-- @backup_required: true

-- UP
CREATE TABLE trades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trade_id TEXT UNIQUE NOT NULL,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity DECIMAL(20,8) NOT NULL CHECK (quantity > 0),
    price DECIMAL(20,8) NOT NULL CHECK (price > 0),
    commission DECIMAL(20,8) NOT NULL DEFAULT 0 CHECK (commission >= 0),
    fees DECIMAL(20,8) NOT NULL DEFAULT 0 CHECK (fees >= 0),
    executed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_trades_order ON trades(order_id);
CREATE INDEX idx_trades_user_executed ON trades(user_id, executed_at);

-- DOWN
DROP INDEX IF EXISTS idx_trades_user_executed;
DROP INDEX IF EXISTS idx_trades_order;
DROP TABLE IF EXISTS trades;
