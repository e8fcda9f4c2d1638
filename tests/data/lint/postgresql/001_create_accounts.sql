-- @name: Create accounts
-- @expect-lint:

-- UP
CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- A new table is empty: a plain index and NOT NULL columns are fine here.
CREATE INDEX idx_accounts_created ON accounts (created_at);
ALTER TABLE accounts ADD COLUMN display_name text NOT NULL;

-- DOWN
DROP TABLE accounts;
