-- @name: Rename accounts.email
-- @expect-lint: rename

-- UP
ALTER TABLE accounts RENAME COLUMN email TO email_address;

-- DOWN
ALTER TABLE accounts RENAME COLUMN email_address TO email;
