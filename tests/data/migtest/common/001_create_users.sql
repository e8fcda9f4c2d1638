-- @name: Create users
-- @type: table_creation

-- UP
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(200) NOT NULL UNIQUE,
    name VARCHAR(100),
    status VARCHAR(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked'))
);
CREATE INDEX idx_users_name ON users (name);

-- DOWN
DROP TABLE users;
