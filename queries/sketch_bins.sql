-- Per group (a window's label or a grouping column's value, `grp`): the merged quantile
-- sketch of every sketched measure over the scope, bin by bin. Callers count from it what
-- one query per side and measure would: the requests above a limit (the tail tests of a
-- cohort comparison and of before/after judge a request by its bin's value, as
-- incident_slow_share does), out of the requests that have the measure.
-- Returns: grp, measure, bin, value (the bin's value: sketch_value), n
-- params: none
SELECT grp, measure, bin, sketch_value(bin) AS value, sum(n)::BIGINT AS n
FROM sketch_cells
WHERE measure IN ('latency_ms', 'ttft_ms', 'input_tokens', 'output_tokens')
GROUP BY grp, measure, bin
ORDER BY grp, measure, bin
