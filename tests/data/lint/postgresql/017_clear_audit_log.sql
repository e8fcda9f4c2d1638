-- @name: Clear the audit log
-- @reversible: false
-- @expect-lint: delete-without-where

-- UP
DELETE FROM audit_log;
