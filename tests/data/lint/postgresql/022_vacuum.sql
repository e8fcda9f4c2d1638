-- @name: Vacuum orders after the backfill
-- @transactional: false
-- @reversible: false
-- @expect-lint:

-- UP
VACUUM (ANALYZE) orders;
