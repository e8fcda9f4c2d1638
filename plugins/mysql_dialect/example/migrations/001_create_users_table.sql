-- Adapted for MySQL/MariaDB from migrations/001: AUTOINCREMENT is spelled AUTO_INCREMENT;
-- the UNIQUE and indexed TEXT columns became VARCHAR (MySQL indexes TEXT only by a prefix);
-- DROP INDEX names its table and loses IF EXISTS (MySQL 8 has no DROP INDEX IF EXISTS).
-- Everything else is as written.
-- @name: Create Users Table
-- @description: Create the main users table with authentication and profile information
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: []
-- @reversible: true
-- @backup_required: true

-- UP
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    user_id VARCHAR(64) UNIQUE NOT NULL,
    email VARCHAR(255) UNIQUE NOT NULL,
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
DROP INDEX idx_users_email ON users;
DROP INDEX idx_users_user_id ON users;
DROP TABLE IF EXISTS users;
