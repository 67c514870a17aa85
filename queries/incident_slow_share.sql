-- Per time bucket: how many requests were slower than a latency limit, out of how many.
-- A latency percentile condition "p95 <= L ms" holds exactly when at most 5 % of
-- requests are slower than L, and these counts, unlike percentiles, pool over a
-- rolling window; the verification soak judges latency metrics on them.
-- Read from the latency sketch: a request counts as slower when its sketch bin's
-- value is above L, so only requests within sketch.RELATIVE_ERROR of L can be misjudged.
-- Returns: bucket, slower, requests
-- params: $bucket_us, $origin (buckets are aligned to it), $limit_ms
SELECT
    time_bucket(to_microseconds($bucket_us), t, $origin)      AS bucket,
    coalesce(sum(n) FILTER (WHERE sketch_value(bin) > $limit_ms), 0)::BIGINT AS slower,
    sum(n)::BIGINT                                           AS requests
FROM sketch_cells
WHERE measure = 'latency_ms'
GROUP BY ALL
ORDER BY bucket
