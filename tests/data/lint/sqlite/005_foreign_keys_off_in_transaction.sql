-- @name: Turn foreign keys off for a copy (has no effect in a transaction)
-- @reversible: false
-- @expect-lint: non-transactional-statement

-- UP
PRAGMA foreign_keys = OFF;
UPDATE notes SET legacy = NULL WHERE legacy = '';
