-- Per time bucket and group (`grp`): count, mean and sample variance of one
-- numeric measure, on the natural-log scale when $log is true (latency, cost,
-- tokens: a multiplicative change becomes a shift) or as is (quality score),
-- from the rollup cells' exact sums and sums of squares (of logs).
-- Non-positive values are left out on the log scale.
-- Returns: bucket, grp, requests, n, mean, var
-- params: $bucket_us, $measure, $log
SELECT
    bucket,
    grp,
    requests,
    n,
    CASE WHEN n > 0 THEN s / n END   AS mean,
    var_from_sums(s, ss, n)          AS var
FROM (
    SELECT
        time_bucket(to_microseconds($bucket_us), t) AS bucket,
        grp,
        sum(requests)::BIGINT AS requests,
        -- one column each: <measure>[_log]_n, _sum, _sumsq
        sum(COLUMNS(lambda c: c = 'm_' || $measure || CASE WHEN $log THEN '_log_n' ELSE '_n' END))::BIGINT AS n,
        sum(COLUMNS(lambda c: c = 'm_' || $measure || CASE WHEN $log THEN '_log_sum' ELSE '_sum' END))::DOUBLE AS s,
        sum(COLUMNS(lambda c: c = 'm_' || $measure || CASE WHEN $log THEN '_log_sumsq' ELSE '_sumsq' END))::DOUBLE AS ss
    FROM cells
    GROUP BY ALL
)
ORDER BY bucket, grp
