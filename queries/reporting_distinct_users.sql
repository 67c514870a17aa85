-- Distinct users among the scoped requests (an incident's "users affected"), from the
-- rollups' distinct-user registers merged over the scope (user_sketch.py: a HyperLogLog
-- within 5 % of the exact count), and how many requests carried a user id at all.
-- Returns one row: users, requests_with_user, requests
-- params: (none)
WITH registers AS (
    SELECT reg, max(rho) AS rho FROM user_cells GROUP BY reg
)
SELECT
    (SELECT round(hll_count(rho))::BIGINT FROM registers)   AS users,
    (SELECT coalesce(sum(user_id_n), 0)::BIGINT FROM cells)  AS requests_with_user,
    (SELECT coalesce(sum(requests), 0)::BIGINT FROM cells)   AS requests
