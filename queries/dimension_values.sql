-- Every value of every dimension column in scope, with its request count, for
-- filter pickers, from the rollup cells: groups them by all dimensions first (a
-- few thousand combinations), then unpivots that small result.
-- Returns: dim, value, requests (most frequent first per dim)
-- params: $dims
WITH combos AS (
    SELECT COLUMNS(lambda c: list_contains($dims, c))::VARCHAR, sum(requests) AS n
    FROM cells
    GROUP BY ALL
)
SELECT dim, value, sum(n)::BIGINT AS requests
FROM (UNPIVOT combos ON COLUMNS(* EXCLUDE (n)) INTO NAME dim VALUE value)
GROUP BY ALL
ORDER BY dim, requests DESC
