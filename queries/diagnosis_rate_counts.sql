-- Per time bucket and group (`grp`): the event and trial counts every rate
-- signal is computed from (rates are never averaged across buckets), summed over rollup cells.
-- Returns: bucket, grp, the registry's count columns (signals.COUNTS)
-- params: $bucket_us
SELECT
    time_bucket(to_microseconds($bucket_us), t)  AS bucket,
    grp,
    @cell_counts
FROM cells
GROUP BY ALL
ORDER BY bucket, grp
