-- Requests per minute per value of `grp` (e.g. an artifact's version): the
-- cheap pass that finds the minutes in which two versions served traffic.
-- Returns: minute, grp, requests
-- params: (none)
SELECT time_bucket(INTERVAL 1 minute, ts) AS minute, grp, count(*) AS requests
FROM scoped
GROUP BY ALL
ORDER BY minute, grp
