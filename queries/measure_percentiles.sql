-- Per time bucket: percentiles of one sketched request measure (latency, time to
-- first token, input or output tokens), over the requests that carry it, from the
-- merged quantile sketch of the rollups (sketch.py: within 1 % of quantile_cont on
-- the rows; n exact).
-- Returns: bucket, n, p50, p90, p99
-- params: $bucket_us, $origin (buckets are aligned to it), $measure
WITH binned AS (
    SELECT time_bucket(to_microseconds($bucket_us), t, $origin) AS bucket, bin, sum(n) AS n
    FROM sketch_cells
    WHERE measure = $measure
    GROUP BY ALL
),
ranked AS (
    SELECT bucket, bin,
           sum(n) OVER (PARTITION BY bucket ORDER BY bin) AS cum,
           sum(n) OVER (PARTITION BY bucket)              AS total
    FROM binned
)
SELECT
    bucket,
    max(total)::BIGINT                              AS n,
    sketch_quantile(0.50, bin, cum, total, true)    AS p50,
    sketch_quantile(0.90, bin, cum, total, true)    AS p90,
    sketch_quantile(0.99, bin, cum, total, true)    AS p99
FROM ranked
GROUP BY bucket
ORDER BY bucket
