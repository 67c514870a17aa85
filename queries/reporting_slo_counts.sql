-- Per time bucket: only the counts SLO evaluation needs (28 days of buckets
-- must stay fast, so no distinct users or log-scale moments here).
-- Returns: bucket, requests, errors, refused, task_success, task_success_n,
--   quality_sum, quality_n, policy_violations, tool_calls, tool_errors,
--   fallbacks, input_tokens, output_tokens, cost_usd,
--   latency_p50_ms, latency_p95_ms, latency_p99_ms
-- params: $bucket_us, $origin (buckets are aligned to it)
SELECT
    bucket,
    requests, errors, refused, task_success, task_success_n, quality_sum, quality_n,
    policy_violations, tool_calls, tool_errors, fallbacks, input_tokens, output_tokens, cost_usd,
    latency_q[1] AS latency_p50_ms,
    latency_q[2] AS latency_p95_ms,
    latency_q[3] AS latency_p99_ms
FROM (
    SELECT
        time_bucket(to_microseconds($bucket_us), ts, $origin) AS bucket,
        count(*)                                        AS requests,
        count(error_type)                               AS errors,
        count(*) FILTER (WHERE refused)                 AS refused,
        count(*) FILTER (WHERE task_success)            AS task_success,
        count(task_success)                             AS task_success_n,
        sum(quality_score)                              AS quality_sum,
        count(quality_score)                            AS quality_n,
        count(*) FILTER (WHERE policy_violation)        AS policy_violations,
        sum(tool_calls)                                 AS tool_calls,
        sum(tool_errors)                                AS tool_errors,
        count(*) FILTER (WHERE fallback_used)           AS fallbacks,
        sum(input_tokens)                               AS input_tokens,
        sum(output_tokens)                              AS output_tokens,
        sum(cost_usd)                                   AS cost_usd,
        quantile_cont(latency_ms, [0.50, 0.95, 0.99])   AS latency_q
    FROM scoped
    GROUP BY 1
)
ORDER BY bucket
