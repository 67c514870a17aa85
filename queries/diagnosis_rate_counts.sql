-- Per time bucket and group (`grp`): the event and trial counts every rate
-- signal is computed from (rates are never averaged across buckets).
-- Returns: bucket, grp, requests, errors, refused, task_success, task_success_n,
--   policy_violations, guardrail_blocks, tool_calls, tool_errors, fallbacks
-- params: $bucket_us
SELECT
    time_bucket(to_microseconds($bucket_us), ts)  AS bucket,
    grp,
    count(*)                                      AS requests,
    count(error_type)                             AS errors,
    count(*) FILTER (WHERE refused)               AS refused,
    count(*) FILTER (WHERE task_success)          AS task_success,
    count(task_success)                           AS task_success_n,
    count(*) FILTER (WHERE policy_violation)      AS policy_violations,
    count(*) FILTER (WHERE guardrail_blocked)     AS guardrail_blocks,
    coalesce(sum(tool_calls), 0)                  AS tool_calls,
    coalesce(sum(tool_errors), 0)                 AS tool_errors,
    count(*) FILTER (WHERE fallback_used)         AS fallbacks
FROM scoped
GROUP BY ALL
ORDER BY bucket, grp
