-- Per time bucket: percentiles of one numeric request measure (latency, time to
-- first token, input or output tokens), over the requests that carry it.
-- Returns: bucket, n, p50, p90, p99
-- params: $bucket_us, $origin (buckets are aligned to it), $measure
SELECT
    bucket,
    n,
    q[1]                            AS p50,
    q[2]                            AS p90,
    q[3]                            AS p99
FROM (
    SELECT
        time_bucket(to_microseconds($bucket_us), ts, $origin)   AS bucket,
        count(x)                                                AS n,
        quantile_cont(x, [0.50, 0.90, 0.99])                    AS q
    FROM (SELECT ts, CAST(COLUMNS(lambda c: c = $measure) AS DOUBLE) AS x FROM scoped)
    WHERE x IS NOT NULL
    GROUP BY 1
)
ORDER BY bucket
