-- @name: Purge cancelled orders
-- @type: data_cleanup
-- @dependencies: ["002_create_orders"]
-- @reversible: false

-- UP
DELETE FROM orders WHERE status = 'cancelled';
