-- When each value of `grp` (an artifact's version column) first served a
-- request in scope, and how many it served: releases nobody logged are
-- inferred from these first appearances.
-- Returns: version, first_ts, requests
-- params: (none)
SELECT grp AS version, min(ts) AS first_ts, count(*) AS requests
FROM scoped
WHERE grp IS NOT NULL
GROUP BY grp
ORDER BY first_ts
