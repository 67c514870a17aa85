-- A histogram of one sketched request measure over the scope, from the merged
-- quantile sketch of the rollups: $bins equal-width bins from the smallest to the
-- largest value (each read from its sketch bin, so within 1 % of the exact one;
-- requests without the measure are left out; a single distinct value is one bin).
-- A request goes to the bin of its sketch value, so only one within 1 % of an edge
-- can land in the neighbouring bin; the total is exact.
-- Returns: bin, lo, hi, requests (one row per non-empty bin, lo/hi its edges)
-- params: $measure, $bins
WITH v AS (
    SELECT sketch_value(bin) AS x, sum(n) AS n FROM sketch_cells WHERE measure = $measure GROUP BY bin
), r AS (
    SELECT min(x) AS lo, max(x) AS hi FROM v
), b AS (
    SELECT
        CASE WHEN r.hi = r.lo THEN 0
             ELSE least(CAST(floor((v.x - r.lo) / (r.hi - r.lo) * $bins) AS BIGINT), $bins - 1) END AS bin,
        r.lo AS lo, r.hi AS hi, v.n AS n
    FROM v, r
)
SELECT
    bin,
    min(lo) + bin * (min(hi) - min(lo)) / $bins        AS lo,
    min(lo) + (bin + 1) * (min(hi) - min(lo)) / $bins  AS hi,
    sum(n)::BIGINT                                     AS requests
FROM b
GROUP BY bin
ORDER BY bin
