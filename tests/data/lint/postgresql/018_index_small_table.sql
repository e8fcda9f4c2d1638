-- @name: Index a table that stays small
-- @lint-ignore: index-without-concurrently  audit_log holds a few hundred rows everywhere
-- @expect-lint:

-- UP
CREATE INDEX idx_audit_entry ON audit_log (entry);

-- DOWN
DROP INDEX idx_audit_entry;
