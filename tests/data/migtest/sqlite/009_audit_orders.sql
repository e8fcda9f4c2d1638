-- @name: Audit new orders
-- @type: table_creation
-- @dependencies: ["002_create_orders"]

-- UP
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    note VARCHAR(200)
);
CREATE TRIGGER trg_orders_audit AFTER INSERT ON orders
BEGIN
    INSERT INTO audit_log (order_id, note) VALUES (NEW.id, 'created');
END;

-- DOWN
DROP TRIGGER trg_orders_audit;
DROP TABLE audit_log;
