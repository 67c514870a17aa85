-- Counts per full combination of the given dimensions (the leaves a segment
-- localizer works on), with the grouping column `grp` (e.g. baseline/current).
-- Returns: <dims...>, grp, the registry's count columns (signals.COUNTS)
-- params: $dims
SELECT
    COLUMNS(lambda c: list_contains($dims, c)),
    grp,
    @counts
FROM scoped
GROUP BY ALL
