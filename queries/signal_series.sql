-- Per time bucket (and per value of one grouping column, `grp`, when asked):
-- the counts and sums every signal is computed from. Rates are derived in
-- Python from numerator/denominator counts, never averaged across buckets.
-- Returns: bucket, grp, the registry's count columns (signals.COUNTS: requests,
--   errors, refused, task_success, task_success_n, quality_sum, quality_n, ...),
--   then the per-bucket moments and quantiles: log_latency_mean, log_latency_var,
--   log_cost_mean, log_cost_var, log_ttft_mean, log_ttft_var,
--   log_input_tokens_mean, log_input_tokens_var, log_output_tokens_mean,
--   log_output_tokens_var, latency_p50_ms, latency_p95_ms, latency_p99_ms,
--   ttft_p50_ms, input_tokens_var, output_tokens_var, quality_var
-- params: $bucket_us, $origin (buckets are aligned to it)
SELECT
    * EXCLUDE (latency_q),
    latency_q[1] AS latency_p50_ms,
    latency_q[2] AS latency_p95_ms,
    latency_q[3] AS latency_p99_ms
FROM (
SELECT
    time_bucket(to_microseconds($bucket_us), ts, $origin) AS bucket,
    grp,
    @counts,
    -- one sort per bucket serves all three quantiles
    quantile_cont(latency_ms, [0.50, 0.95, 0.99])   AS latency_q,
    quantile_cont(ttft_ms, 0.50)                    AS ttft_p50_ms,
    avg(ln(greatest(latency_ms, 0.001)))            AS log_latency_mean,
    var_samp(ln(greatest(latency_ms, 0.001)))       AS log_latency_var,
    avg(ln(greatest(cost_usd, 1e-9)))               AS log_cost_mean,
    var_samp(ln(greatest(cost_usd, 1e-9)))          AS log_cost_var,
    avg(ln(ttft_ms)) FILTER (WHERE ttft_ms > 0)     AS log_ttft_mean,
    var_samp(ln(ttft_ms)) FILTER (WHERE ttft_ms > 0) AS log_ttft_var,
    avg(ln(input_tokens)) FILTER (WHERE input_tokens > 0)        AS log_input_tokens_mean,
    var_samp(ln(input_tokens)) FILTER (WHERE input_tokens > 0)   AS log_input_tokens_var,
    avg(ln(output_tokens)) FILTER (WHERE output_tokens > 0)      AS log_output_tokens_mean,
    var_samp(ln(output_tokens)) FILTER (WHERE output_tokens > 0) AS log_output_tokens_var,
    var_samp(input_tokens)                          AS input_tokens_var,
    var_samp(output_tokens)                         AS output_tokens_var,
    var_samp(quality_score)                         AS quality_var
FROM scoped
GROUP BY ALL
)
ORDER BY bucket, grp
