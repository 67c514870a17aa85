-- Request ids the store already holds between two times (both inclusive), for an
-- ingest's duplicate check: a batch's rows are looked up only in its own time range,
-- so row groups outside it are skipped by their ts statistics.
-- Returns: request_id (one row per stored row in the range).
-- params: $first_ts, $last_ts
SELECT request_id
FROM requests
WHERE ts >= $first_ts AND ts <= $last_ts
