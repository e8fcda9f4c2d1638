-- Adapted for MySQL/MariaDB from migrations/002: AUTOINCREMENT is spelled AUTO_INCREMENT;
-- the indexed TEXT column became VARCHAR; the column-level REFERENCES became a table-level
-- FOREIGN KEY (MySQL ignores REFERENCES written on a column). DOWN drops the table, which
-- takes its indexes along: MySQL refuses to drop an index that a foreign key has come to
-- rely on. Everything else is as written.
-- @name: Create Portfolio Table
-- @description: Holdings per user and symbol, with position and P&L tracking
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: ["001_create_users_table"]
-- @reversible: true
-- @backup_required: true

-- UP
CREATE TABLE portfolio (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    user_id INTEGER NOT NULL,
    symbol VARCHAR(32) NOT NULL,
    quantity DECIMAL(20,8) NOT NULL DEFAULT 0,
    average_price DECIMAL(20,8) NOT NULL DEFAULT 0,
    realized_pnl DECIMAL(20,8) NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, symbol),
    CHECK (quantity >= 0),
    CHECK (average_price >= 0),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);

CREATE INDEX idx_portfolio_user ON portfolio(user_id);
CREATE INDEX idx_portfolio_symbol ON portfolio(symbol);

-- DOWN
DROP TABLE IF EXISTS portfolio;
