-- Adapted for PostgreSQL from migrations/005: BOOLEAN DEFAULT 1 became DEFAULT TRUE.
-- Everything else is as written.
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
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    language TEXT NOT NULL DEFAULT 'en',
    email_notifications BOOLEAN NOT NULL DEFAULT TRUE,
    default_order_type TEXT NOT NULL DEFAULT 'limit'
        CHECK (default_order_type IN ('market', 'limit', 'stop', 'stop_limit')),
    risk_tolerance TEXT NOT NULL DEFAULT 'medium'
        CHECK (risk_tolerance IN ('low', 'medium', 'high')),
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO user_preferences (user_id) SELECT id FROM users;

-- DOWN
DROP TABLE IF EXISTS user_preferences;
