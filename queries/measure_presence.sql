-- Which columns of the request files hold any value, from the Parquet files'
-- own statistics (no scan): per column, the rows and the nulls among them.
-- A column a file lacks is absent there (its rows count as null). `unknown`
-- counts row groups without a null count (the caller then counts by scanning).
-- Returns: column_name, rows, nulls, unknown
-- params: $files
SELECT
    path_in_schema                                    AS column_name,
    sum(row_group_num_rows)::BIGINT                   AS rows,
    sum(stats_null_count)::BIGINT                     AS nulls,
    count(*) FILTER (WHERE stats_null_count IS NULL)  AS unknown
FROM parquet_metadata($files)
GROUP BY ALL
