-- @name: Rebuild notes with a required body
-- @reversible: false
-- @expect-lint: sqlite-table-rebuild

-- UP
CREATE TABLE notes_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    legacy TEXT,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO notes_new (id, body, legacy, updated_at)
    SELECT id, COALESCE(body, ''), legacy, updated_at FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
CREATE INDEX idx_notes_updated ON notes (updated_at);
