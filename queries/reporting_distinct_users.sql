-- Distinct users among the scoped requests (exact, for an incident's
-- "users affected"), and how many requests carried a user id at all.
-- Returns one row: users, requests_with_user, requests
-- params: (none)
SELECT
    count(DISTINCT user_id) AS users,
    count(user_id)          AS requests_with_user,
    count(*)                AS requests
FROM scoped
