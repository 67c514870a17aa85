-- Per time bucket: how many requests were slower than a latency limit, out of how many.
-- A latency percentile condition "p95 <= L ms" holds exactly when at most 5 % of
-- requests are slower than L, and these counts, unlike percentiles, pool over a
-- rolling window; the verification soak judges latency metrics on them.
-- Returns: bucket, slower, requests
-- params: $bucket_us, $origin (buckets are aligned to it), $limit_ms
SELECT
    time_bucket(to_microseconds($bucket_us), ts, $origin) AS bucket,
    count(*) FILTER (WHERE latency_ms > $limit_ms)       AS slower,
    count(*)                                             AS requests
FROM scoped
GROUP BY ALL
ORDER BY bucket
