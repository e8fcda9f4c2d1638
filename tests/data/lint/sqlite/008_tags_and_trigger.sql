-- @name: Tags, and a trigger the DOWN forgets
-- @expect-lint: down-does-not-undo-up

-- UP
CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE TRIGGER trg_notes_pin AFTER UPDATE OF pinned ON notes
BEGIN
    UPDATE notes SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;

-- DOWN
DROP TABLE IF EXISTS tags;
