-- @name: Index clients by phone (online DDL on InnoDB)
-- @expect-lint:

-- UP
CREATE INDEX idx_clients_phone ON clients (phone);

-- DOWN
DROP INDEX idx_clients_phone ON clients;
