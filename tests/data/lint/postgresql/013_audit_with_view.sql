-- @name: Audit log and a view of recent orders
-- @expect-lint: down-does-not-undo-up

-- UP
CREATE TABLE audit_log (id bigint PRIMARY KEY, entry text NOT NULL);
CREATE VIEW recent_orders AS
    SELECT * FROM orders WHERE created_at > now() - interval '7 days';

-- DOWN
DROP TABLE audit_log;
