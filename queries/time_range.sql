-- The span of the request store from the Parquet files' own statistics (no
-- scan): first and last timestamp and the row count. first_ts is NULL when a
-- file carries no statistics; the caller then falls back to time_range_scan.
-- Returns one row: first_ts, last_ts, requests, files_without_stats
-- params: $files
SELECT
    min(stats_min_value::TIMESTAMPTZ) AS first_ts,
    max(stats_max_value::TIMESTAMPTZ) AS last_ts,
    sum(row_group_num_rows)::BIGINT AS requests,
    count(*) FILTER (WHERE stats_min_value IS NULL) AS files_without_stats
FROM parquet_metadata($files)
WHERE path_in_schema = 'ts'
