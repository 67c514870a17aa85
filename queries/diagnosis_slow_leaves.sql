-- Requests and "slow" requests (a sketched measure above $threshold: latency, or
-- tokens) per full combination of the given dimensions and per named window
-- (`grp`): turns a latency or token-tail regression into a rate (the share above
-- the threshold) that segments can be localized on. Read from the measure's
-- sketch (a request within sketch.RELATIVE_ERROR of the threshold may be judged
-- either way).
-- Returns: <dims...>, grp, requests, slow
-- params: $dims, $measure, $threshold
SELECT
    COLUMNS(lambda c: list_contains($dims, c)),
    grp,
    sum(n)::BIGINT                                                        AS requests,
    coalesce(sum(n) FILTER (WHERE sketch_value(bin) > $threshold), 0)::BIGINT AS slow
FROM sketch_cells
WHERE measure = $measure
GROUP BY ALL
