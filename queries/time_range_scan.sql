-- The span of the request store by reading every timestamp: the fallback for
-- files written without column statistics.
-- Returns one row: first_ts, last_ts, requests, files_without_stats (0)
-- params: (none)
SELECT min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS requests, 0 AS files_without_stats
FROM requests
