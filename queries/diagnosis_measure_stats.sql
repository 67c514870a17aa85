-- Per time bucket and group (`grp`): count, mean and sample variance of one
-- numeric measure, on the natural-log scale when $log is true (latency, cost,
-- tokens: a multiplicative change becomes a shift) or as is (quality score).
-- Non-positive values are left out on the log scale.
-- Returns: bucket, grp, requests, n, mean, var
-- params: $bucket_us, $measure, $log
SELECT
    bucket,
    grp,
    count(*)                           AS requests,
    count(x)                           AS n,
    avg(x)                             AS mean,
    var_samp(x)                        AS var
FROM (
    SELECT
        time_bucket(to_microseconds($bucket_us), ts) AS bucket,
        grp,
        CASE WHEN NOT $log THEN CAST(m AS DOUBLE)
             WHEN m > 0 THEN ln(CAST(m AS DOUBLE)) END AS x
    FROM (SELECT ts, grp, COLUMNS(lambda c: c = $measure) AS m FROM scoped)
)
GROUP BY ALL
ORDER BY bucket, grp
