-- Every value of every dimension column in scope, with its request count, for
-- filter pickers. Returns: dim, value, requests (most frequent first per dim)
-- params: $dims
SELECT dim, value, count(*) AS requests
FROM (
    UNPIVOT (SELECT COLUMNS(lambda c: list_contains($dims, c))::VARCHAR FROM scoped)
    ON COLUMNS(*) INTO NAME dim VALUE value
)
GROUP BY ALL
ORDER BY dim, requests DESC
