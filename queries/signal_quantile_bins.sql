-- Per time bucket (and per value of one grouping column, `grp`, when asked): the merged
-- quantile sketch of each sketched measure, bin by bin. The series' percentiles are read
-- from it in Python (sketch.quantile_columns: the rank arithmetic of sketch_quantile, on
-- the sorted bins at once), which took a third of the SQL's time on a day of minute buckets.
-- Returns: measure (1 latency_ms, 2 ttft_ms, 3 input_tokens, 4 output_tokens: sketch.SKETCHED's
--   order), bucket, grp, bin, n
-- params: $bucket_us, $origin (buckets are aligned to it)
SELECT
    CASE measure WHEN 'latency_ms' THEN 1 WHEN 'ttft_ms' THEN 2 WHEN 'input_tokens' THEN 3
                 WHEN 'output_tokens' THEN 4 END                AS measure,
    time_bucket(to_microseconds($bucket_us), t, $origin)         AS bucket,
    grp,
    bin,
    sum(n)::BIGINT                                              AS n
FROM sketch_cells
WHERE measure IN ('latency_ms', 'ttft_ms', 'input_tokens', 'output_tokens')
GROUP BY ALL
