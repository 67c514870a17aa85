-- ClickHouse form of ../reporting_distinct_users.sql, by hand: the DuckDB file merges
-- the HyperLogLog registers the DuckDB rollups keep (user_sketch.py); the ClickHouse
-- rollups keep no user registers, so this counts the scope's user ids exactly
-- (uniqExact over one column, which ClickHouse scans in parallel). The DuckDB answer
-- is within 5 % of this one; the request counts are equal.
-- Returns one row: users, requests_with_user, requests
-- params: (none)
SELECT
    toInt64(uniqExact(user_id)) AS users,
    toInt64(count(user_id))     AS requests_with_user,
    toInt64(count())            AS requests
FROM scoped
