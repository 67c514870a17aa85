-- When each value of `grp` (an artifact's version column) first served a
-- request in scope, and how many it served, from the rollup cells (each keeps
-- its first request's timestamp): releases nobody logged are inferred from
-- these first appearances.
-- Returns: version, first_ts, requests
-- params: (none)
SELECT grp AS version, min(first_ts) AS first_ts, sum(requests)::BIGINT AS requests
FROM cells
WHERE grp IS NOT NULL
GROUP BY grp
ORDER BY first_ts
