-- Per time bucket: only the counts SLO evaluation needs (28 days of buckets
-- must stay fast, so no distinct users or log-scale moments here).
-- Returns: bucket, the registry's count columns (signals.COUNTS),
--   latency_p50_ms, latency_p95_ms, latency_p99_ms
-- params: $bucket_us, $origin (buckets are aligned to it)
SELECT
    * EXCLUDE (latency_q),
    latency_q[1] AS latency_p50_ms,
    latency_q[2] AS latency_p95_ms,
    latency_q[3] AS latency_p99_ms
FROM (
    SELECT
        time_bucket(to_microseconds($bucket_us), ts, $origin) AS bucket,
        @counts,
        quantile_cont(latency_ms, [0.50, 0.95, 0.99])   AS latency_q
    FROM scoped
    GROUP BY 1
)
ORDER BY bucket
