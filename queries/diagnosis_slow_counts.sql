-- Per time bucket and group (`grp`): requests carrying a measure and how many of
-- them were above a limit (the baseline's p95 or p99): a tail percentile tested
-- on itself is this binomial count, which, unlike a percentile, pools over
-- buckets, cohorts and segments. Read from the measure's sketch: a request
-- within sketch.RELATIVE_ERROR of the limit may be judged either way.
-- Returns: bucket, grp, requests, slow
-- params: $bucket_us, $measure, $limit
SELECT
    time_bucket(to_microseconds($bucket_us), t)                                   AS bucket,
    grp,
    sum(n)::BIGINT                                                                AS requests,
    coalesce(sum(n) FILTER (WHERE sketch_value(bin) > $limit), 0)::BIGINT         AS slow
FROM sketch_cells
WHERE measure = $measure
GROUP BY ALL
ORDER BY bucket, grp
