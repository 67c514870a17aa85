-- Counts per full combination of the given dimensions (the leaves a segment
-- localizer works on), with the grouping column `grp` (e.g. baseline/current),
-- summed over rollup cells.
-- Returns: <dims...>, grp, the registry's count columns (signals.COUNTS)
-- params: $dims
SELECT
    COLUMNS(lambda c: list_contains($dims, c)),
    grp,
    @cell_counts
FROM cells
GROUP BY ALL
