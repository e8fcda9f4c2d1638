-- @name: Audit new orders
-- @type: table_creation
-- @dependencies: ["002_create_orders"]

-- UP
CREATE TABLE audit_log (
    id SERIAL PRIMARY KEY,
    order_id INTEGER NOT NULL,
    note VARCHAR(200)
);
CREATE FUNCTION audit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (order_id, note) VALUES (NEW.id, 'created');
    RETURN NEW;
END;
$$;
CREATE TRIGGER trg_orders_audit AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION audit_order();

-- DOWN
DROP TRIGGER trg_orders_audit ON orders;
DROP FUNCTION audit_order();
DROP TABLE audit_log;
