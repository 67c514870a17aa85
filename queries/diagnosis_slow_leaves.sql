-- Requests and slow requests (latency above $threshold_ms) per full combination
-- of the given dimensions and per named window (`grp`): turns a latency
-- regression into a rate (share of slow requests) that segments can be
-- localized on. Read from the latency sketch (a request within
-- sketch.RELATIVE_ERROR of the threshold may be judged either way).
-- Returns: <dims...>, grp, requests, slow
-- params: $dims, $threshold_ms
SELECT
    COLUMNS(lambda c: list_contains($dims, c)),
    grp,
    sum(n)::BIGINT                                                        AS requests,
    coalesce(sum(n) FILTER (WHERE sketch_value(bin) > $threshold_ms), 0)::BIGINT AS slow
FROM sketch_cells
WHERE measure = 'latency_ms'
GROUP BY ALL
