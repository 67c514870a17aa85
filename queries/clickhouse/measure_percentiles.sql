-- ClickHouse form of ../measure_percentiles.sql, by hand: the DuckDB file picks the
-- measure's column with COLUMNS(lambda ...) and buckets with time_bucket(origin),
-- neither of which sqlglot translates. Same answer: quantilesExactInclusive
-- interpolates between the two nearest ranks as quantile_cont does.
-- Returns: bucket, n, p50, p90, p99
-- params: $bucket_us, $origin (buckets are aligned to it), $measure
SELECT
    bucket,
    n,
    q[1] AS p50,
    q[2] AS p90,
    q[3] AS p99
FROM (
    SELECT
        toDateTime64(toStartOfInterval(ts, toIntervalMicrosecond($bucket_us), $origin), 6, 'UTC') AS bucket,
        count(x)                                                                                  AS n,
        quantilesExactInclusive(0.50, 0.90, 0.99)(x)                                               AS q
    FROM (
        SELECT ts, multiIf($measure = 'latency_ms', latency_ms, $measure = 'ttft_ms', ttft_ms,
                           $measure = 'input_tokens', toFloat64(input_tokens),
                           $measure = 'output_tokens', toFloat64(output_tokens), NULL) AS x
        FROM scoped
    )
    WHERE x IS NOT NULL
    GROUP BY bucket
)
ORDER BY bucket
