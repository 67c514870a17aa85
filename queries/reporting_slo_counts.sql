-- Per time bucket: only the counts SLO evaluation needs, summed over rollup cells
-- (28 days of buckets stay fast), with latency percentiles from the merged sketch.
-- Returns: bucket, the registry's count columns (signals.COUNTS),
--   latency_p50_ms, latency_p95_ms, latency_p99_ms
-- params: $bucket_us, $origin (buckets are aligned to it)
WITH counts AS (
    SELECT
        time_bucket(to_microseconds($bucket_us), t, $origin) AS bucket,
        @cell_counts
    FROM cells
    GROUP BY 1
),
latency AS (
    SELECT bucket, bin,
           sum(n) OVER (PARTITION BY bucket ORDER BY bin) AS cum,
           sum(n) OVER (PARTITION BY bucket)              AS total
    FROM (
        SELECT time_bucket(to_microseconds($bucket_us), t, $origin) AS bucket, bin, sum(n) AS n
        FROM sketch_cells
        WHERE measure = 'latency_ms'
        GROUP BY ALL
    )
),
quantiles AS (
    SELECT bucket,
           sketch_quantile(0.50, bin, cum, total, true) AS latency_p50_ms,
           sketch_quantile(0.95, bin, cum, total, true) AS latency_p95_ms,
           sketch_quantile(0.99, bin, cum, total, true) AS latency_p99_ms
    FROM latency
    GROUP BY ALL
)
SELECT c.*, latency_p50_ms, latency_p95_ms, latency_p99_ms
FROM counts c LEFT JOIN quantiles q USING (bucket)
ORDER BY bucket
