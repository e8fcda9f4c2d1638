-- @name: Reclaim space after the rebuild
-- @reversible: false
-- @expect-lint: non-transactional-statement

-- UP
VACUUM;
