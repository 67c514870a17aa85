-- Per request file, from its Parquet statistics (no scan): its first and last
-- timestamp and its row count. The store's span is their union (time_range); a
-- query's rows at partial minutes are read from the files whose span meets them
-- (rollup_scope's raw tier). first_ts is NULL, or without_stats above 0, when a row
-- group carries no statistics on ts: the caller treats that file as meeting every
-- range, and the store's span falls back to time_range_scan.
-- Returns one row per file with row groups: file, first_ts, last_ts, requests, without_stats
-- params: $files
SELECT
    file_name                                         AS file,
    min(stats_min_value::TIMESTAMPTZ)                 AS first_ts,
    max(stats_max_value::TIMESTAMPTZ)                 AS last_ts,
    sum(row_group_num_rows)::BIGINT                   AS requests,
    count(*) FILTER (WHERE stats_min_value IS NULL)   AS without_stats
FROM parquet_metadata($files)
WHERE path_in_schema = 'ts'
GROUP BY file_name
