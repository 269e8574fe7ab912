-- orders: source_orders -> target_orders, values carried exactly (decimals stay decimals).
-- Runs after users: an order whose user is NULL or not in target_users is rejected as
-- `unknown_user`; a negative total as `negative_total`. Rejected rows go to _ferry_rejects.
SELECT
    CAST(o.order_id AS INT) AS order_id,
    CAST(o.user_id AS INT) AS user_id,
    CAST(o.order_total AS DECIMAL(10, 2)) AS order_total,
    o.order_date,
    CASE
        WHEN o.user_id IS NULL OR u.user_id IS NULL THEN 'unknown_user'
        WHEN o.order_total < 0 THEN 'negative_total'
    END AS _ferry_reject
FROM source_orders o
LEFT JOIN target.target_users u ON u.user_id = o.user_id
