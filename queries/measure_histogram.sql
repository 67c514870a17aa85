-- A histogram of one numeric request measure over the scope: $bins equal-width
-- bins from the smallest to the largest value (requests without the measure are
-- left out; a single distinct value is one bin).
-- Returns: bin, lo, hi, requests (one row per non-empty bin, lo/hi its edges)
-- params: $measure, $bins
WITH v AS (
    SELECT CAST(COLUMNS(lambda c: c = $measure) AS DOUBLE) AS x FROM scoped
), r AS (
    SELECT min(x) AS lo, max(x) AS hi FROM v WHERE x IS NOT NULL
), b AS (
    SELECT
        CASE WHEN r.hi = r.lo THEN 0
             ELSE least(CAST(floor((v.x - r.lo) / (r.hi - r.lo) * $bins) AS BIGINT), $bins - 1) END AS bin,
        r.lo AS lo, r.hi AS hi
    FROM v, r
    WHERE v.x IS NOT NULL
)
SELECT
    bin,
    min(lo) + bin * (min(hi) - min(lo)) / $bins        AS lo,
    min(lo) + (bin + 1) * (min(hi) - min(lo)) / $bins  AS hi,
    count(*)                                           AS requests
FROM b
GROUP BY bin
ORDER BY bin
