-- The span of the request store: first and last timestamp and the row count.
-- Returns one row: first_ts, last_ts, requests
-- params: (none)
SELECT min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS requests
FROM requests
