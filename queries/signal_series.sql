-- Per time bucket (and per value of one grouping column, `grp`, when asked):
-- the counts and sums every signal is computed from. Rates are derived in
-- Python from numerator/denominator counts, never averaged across buckets.
-- Returns: bucket, grp, requests, errors, refused, task_success, task_success_n,
--   quality_sum, quality_n, policy_violations, guardrail_blocks, tool_calls,
--   tool_errors, fallbacks, input_tokens, output_tokens, cost_usd,
--   log_latency_mean, log_latency_var, log_cost_mean, log_cost_var,
--   latency_p50_ms, latency_p95_ms, latency_p99_ms,
--   input_tokens_var, output_tokens_var, quality_var
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
    count(*)                                        AS requests,
    count(error_type)                               AS errors,
    count(*) FILTER (WHERE refused)                 AS refused,
    count(*) FILTER (WHERE task_success)            AS task_success,
    count(task_success)                             AS task_success_n,
    sum(quality_score)                              AS quality_sum,
    count(quality_score)                            AS quality_n,
    count(*) FILTER (WHERE policy_violation)        AS policy_violations,
    count(*) FILTER (WHERE guardrail_blocked)       AS guardrail_blocks,
    sum(tool_calls)::BIGINT                                 AS tool_calls,
    sum(tool_errors)::BIGINT                                AS tool_errors,
    count(*) FILTER (WHERE fallback_used)           AS fallbacks,
    sum(input_tokens)::BIGINT                               AS input_tokens,
    sum(output_tokens)::BIGINT                              AS output_tokens,
    sum(cost_usd)                                   AS cost_usd,
    -- one sort per bucket serves all three quantiles
    quantile_cont(latency_ms, [0.50, 0.95, 0.99])   AS latency_q,
    avg(ln(greatest(latency_ms, 0.001)))            AS log_latency_mean,
    var_samp(ln(greatest(latency_ms, 0.001)))       AS log_latency_var,
    avg(ln(greatest(cost_usd, 1e-9)))               AS log_cost_mean,
    var_samp(ln(greatest(cost_usd, 1e-9)))          AS log_cost_var,
    var_samp(input_tokens)                          AS input_tokens_var,
    var_samp(output_tokens)                         AS output_tokens_var,
    var_samp(quality_score)                         AS quality_var
FROM scoped
GROUP BY ALL
)
ORDER BY bucket, grp
