-- @name: Customers become clients
-- @expect-lint: rename

-- UP
RENAME TABLE customers TO clients;

-- DOWN
RENAME TABLE clients TO customers;
