-- @name: Create orders
-- @expect-lint:

-- UP
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    status order_status NOT NULL DEFAULT 'new',
    amount numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE legacy_sessions (id bigint PRIMARY KEY, token text NOT NULL);

-- DOWN
DROP TABLE legacy_sessions;
DROP TABLE orders;
DROP TYPE order_status;
