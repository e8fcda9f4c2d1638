-- @name: Audit new orders
-- @type: table_creation
-- @dependencies: ["002_create_orders"]

-- UP
CREATE TABLE audit_log (
    id INTEGER AUTO_INCREMENT PRIMARY KEY,
    order_id INTEGER NOT NULL,
    note VARCHAR(200)
);
CREATE TRIGGER trg_orders_audit AFTER INSERT ON orders
    FOR EACH ROW INSERT INTO audit_log (order_id, note) VALUES (NEW.id, 'created');

-- DOWN
DROP TRIGGER trg_orders_audit;
DROP TABLE audit_log;
