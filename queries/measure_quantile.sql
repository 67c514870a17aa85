-- One percentile of one sketched measure (latency, time to first token, tokens) over
-- the whole scope, from the merged sketch: the limit a tail percentile is tested
-- against (the share of requests slower than the baseline's p95 is a binomial count).
-- Returns: value (NULL when no request in the scope carries the measure)
-- params: $measure, $q
WITH merged AS (
    SELECT bin, sum(n) AS n FROM sketch_cells WHERE measure = $measure GROUP BY bin
),
ranked AS (
    SELECT bin, sum(n) OVER (ORDER BY bin) AS cum, sum(n) OVER () AS total FROM merged
)
SELECT sketch_quantile($q, bin, cum, total, true) AS value
FROM ranked
