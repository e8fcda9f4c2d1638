-- @name: Seed more countries (data only)
-- @expect-lint:

-- UP
INSERT INTO countries (code, name) VALUES ('IT', 'Italy'), ('ES', 'Spain');

-- DOWN
DELETE FROM countries WHERE code IN ('IT', 'ES');
