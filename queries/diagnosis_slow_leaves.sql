-- Requests and slow requests (latency above $threshold_ms) per full combination
-- of the given dimensions and per named window (`grp`): turns a latency
-- regression into a rate (share of slow requests) that segments can be
-- localized on. Returns: <dims...>, grp, requests, slow
-- params: $dims, $threshold_ms
SELECT
    COLUMNS(lambda c: list_contains($dims, c)),
    grp,
    count(*)                                           AS requests,
    count(*) FILTER (WHERE latency_ms > $threshold_ms) AS slow
FROM scoped
GROUP BY ALL
