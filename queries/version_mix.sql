-- Requests per minute per value of `grp` (e.g. an artifact's version), from the
-- rollup cells: the cheap pass that finds the minutes in which two versions served traffic.
-- Returns: minute, grp, requests
-- params: (none)
-- cells grain: 1 minute
SELECT time_bucket(INTERVAL 1 minute, t) AS minute, grp, sum(requests)::BIGINT AS requests
FROM cells
GROUP BY ALL
ORDER BY minute, grp
