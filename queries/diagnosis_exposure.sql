-- Who a version served: requests per value of each segment dimension, split by
-- the version of one artifact column, from the rollup cells. Used to check whether a
-- regression sits where a release's traffic is (a scoped rollout, a version only some segments get).
-- Returns: version, dim, value, requests
-- params: $dims, $version_column
SELECT version, dim, value, sum(requests)::BIGINT AS requests
FROM (
    UNPIVOT (
        SELECT COLUMNS(lambda c: list_contains($dims, c))::VARCHAR,
               CAST(COLUMNS(lambda c: c = $version_column) AS VARCHAR) AS version,
               requests
        FROM cells
    )
    ON COLUMNS(lambda c: list_contains($dims, c)) INTO NAME dim VALUE value
)
GROUP BY ALL
ORDER BY dim, value, version
