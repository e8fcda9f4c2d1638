-- Adapted for MySQL/MariaDB from migrations/005: TEXT columns with a DEFAULT became VARCHAR
-- (MySQL before 8.0.13 allows no literal default on TEXT); the column-level REFERENCES became
-- a table-level FOREIGN KEY (MySQL ignores REFERENCES written on a column). Everything else
-- is as written.
-- @name: Add User Preferences
-- @description: Per-user timezone, language, notification and trading preferences
-- @type: table_modification
-- @author: Database Migration System
-- @dependencies: ["001_create_users_table"]
-- @reversible: true
-- @backup_required: true

-- UP
-- A table of its own rather than ALTER TABLE users, as in the SQLite original, so that DOWN
-- stays exact.
CREATE TABLE user_preferences (
    user_id INTEGER PRIMARY KEY,
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    language VARCHAR(16) NOT NULL DEFAULT 'en',
    email_notifications BOOLEAN NOT NULL DEFAULT 1,
    default_order_type VARCHAR(16) NOT NULL DEFAULT 'limit'
        CHECK (default_order_type IN ('market', 'limit', 'stop', 'stop_limit')),
    risk_tolerance VARCHAR(16) NOT NULL DEFAULT 'medium'
        CHECK (risk_tolerance IN ('low', 'medium', 'high')),
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);

INSERT INTO user_preferences (user_id) SELECT id FROM users;

-- DOWN
DROP TABLE IF EXISTS user_preferences;
