-- @name: Create Users Table
-- @description: Create the main users table with authentication and profile information
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: []
-- @reversible: true
-- @backup_required: true

-- UP
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT UNIQUE NOT NULL,
    email TEXT UNIQUE NOT NULL,
    password_hash TEXT NOT NULL,
    balance DECIMAL(15,2) NOT NULL DEFAULT 0.00,
    risk_limit DECIMAL(15,2) NOT NULL DEFAULT 10000.00,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (balance >= 0),
    CHECK (email LIKE '%@%.%')
);

CREATE INDEX idx_users_user_id ON users(user_id);
CREATE INDEX idx_users_email ON users(email);

-- DOWN
DROP INDEX IF EXISTS idx_users_email;
DROP INDEX IF EXISTS idx_users_user_id;
DROP TABLE IF EXISTS users;
