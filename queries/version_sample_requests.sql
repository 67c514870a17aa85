-- A few requests of each value of `grp` (an artifact's version) in scope, for
-- a reader to open one by one: rows ranked by hash(request_id, $seed) within
-- each version and the first $per_version kept, so a rerun shows the same ones.
-- Returns: every request column, version
-- params: $seed, $per_version
SELECT * EXCLUDE (grp, rank_in_version), grp AS version
FROM (
    SELECT *, row_number() OVER (PARTITION BY grp ORDER BY hash(request_id, $seed), request_id) AS rank_in_version
    FROM scoped
    WHERE grp IS NOT NULL
)
WHERE rank_in_version <= $per_version
ORDER BY version, ts
