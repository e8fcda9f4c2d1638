-- @name: Create notes
-- @expect-lint:

-- UP
CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT,
    legacy TEXT,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_notes_updated ON notes (updated_at);
CREATE TRIGGER trg_notes_touch AFTER UPDATE OF body ON notes
BEGIN
    UPDATE notes SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;

-- DOWN
DROP TABLE IF EXISTS notes;
