-- A deterministic sample of affected and unaffected requests for an incident's
-- reproducer packet. A request is affected when any of its artifact-version
-- columns ($artifact_cols) holds a suspect version ($bad_versions); with
-- $by_time instead, when it arrived at or after $incident_start (the scope then
-- also covers a baseline stretch before it). Rows are ranked by
-- hash(request_id, $seed) within each group and the first $per_group kept, so
-- the same seed always picks the same requests.
-- Returns: every request column, affected, group_total (requests in the group)
-- params: $artifact_cols, $bad_versions, $by_time, $incident_start, $seed, $per_group
SELECT * EXCLUDE (grp, rank_in_group)
FROM (
    SELECT
        *,
        row_number() OVER (PARTITION BY affected ORDER BY hash(request_id, $seed), request_id) AS rank_in_group,
        count(*) OVER (PARTITION BY affected) AS group_total
    FROM (
        SELECT
            *,
            CASE WHEN $by_time THEN ts >= $incident_start
                 ELSE list_has_any(list_value(*COLUMNS(lambda c: list_contains($artifact_cols, c))), $bad_versions)
            END AS affected
        FROM scoped
    )
)
WHERE rank_in_group <= $per_group
ORDER BY affected DESC, ts, request_id
