-- @name: Create order notes
-- @type: table_creation
-- @dependencies: ["002_create_orders"]

-- UP
CREATE TABLE order_notes (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    body VARCHAR(500) NOT NULL CHECK (body <> ''),
    FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
);
CREATE INDEX idx_order_notes_order ON order_notes (order_id);

-- DOWN
DROP TABLE order_notes;
