-- Per time bucket and group (`grp`): the event and trial counts every rate
-- signal is computed from (rates are never averaged across buckets).
-- Returns: bucket, grp, the registry's count columns (signals.COUNTS)
-- params: $bucket_us
SELECT
    time_bucket(to_microseconds($bucket_us), ts)  AS bucket,
    grp,
    @counts
FROM scoped
GROUP BY ALL
ORDER BY bucket, grp
