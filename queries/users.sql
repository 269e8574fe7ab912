-- users: source_table -> target_users.
-- Columns renamed; age bucketed into <30, 30-40, >40, and `unknown` when it is NULL
-- (the old system crashed on a NULL age).
SELECT
    CAST(id AS INT) AS user_id,
    name AS full_name,
    CASE
        WHEN age IS NULL THEN 'unknown'
        WHEN age < 30 THEN '<30'
        WHEN age <= 40 THEN '30-40'
        ELSE '>40'
    END AS age_group,
    city,
    created_at AS registered_date
FROM source_table
