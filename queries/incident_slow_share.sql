-- Per time bucket: how many requests had a sketched measure (latency, tokens) above
-- a limit, out of how many. A percentile condition "p95 <= L" holds exactly when at
-- most 5 % of requests are above L, and these counts, unlike percentiles, pool over
-- a rolling window; the verification soak judges percentile metrics on them.
-- Read from the measure's sketch: a request counts as above when its sketch bin's
-- value is above L, so only requests within sketch.RELATIVE_ERROR of L can be misjudged.
-- Returns: bucket, slower, requests
-- params: $bucket_us, $origin (buckets are aligned to it), $measure, $limit
SELECT
    time_bucket(to_microseconds($bucket_us), t, $origin)      AS bucket,
    coalesce(sum(n) FILTER (WHERE sketch_value(bin) > $limit), 0)::BIGINT AS slower,
    sum(n)::BIGINT                                           AS requests
FROM sketch_cells
WHERE measure = $measure
GROUP BY ALL
ORDER BY bucket
