-- @name: Backfill tiers
-- @reversible: false
-- @expect-lint:

-- UP
UPDATE accounts SET tier = 'pro' WHERE id IN (SELECT account_id FROM orders WHERE amount > 1000);
DELETE FROM audit_log WHERE entry = '';
