-- Counts per full combination of the given dimensions (the leaves a segment
-- localizer works on), with the grouping column `grp` (e.g. baseline/current).
-- Returns: <dims...>, grp, requests, errors, refused, task_success,
--   policy_violations, tool_calls, tool_errors, fallbacks, cost_usd, output_tokens
-- params: $dims
SELECT
    COLUMNS(lambda c: list_contains($dims, c)),
    grp,
    count(*)                                 AS requests,
    count(error_type)                        AS errors,
    count(*) FILTER (WHERE refused)          AS refused,
    count(*) FILTER (WHERE task_success)     AS task_success,
    count(*) FILTER (WHERE policy_violation) AS policy_violations,
    sum(tool_calls)::BIGINT                          AS tool_calls,
    sum(tool_errors)::BIGINT                         AS tool_errors,
    count(*) FILTER (WHERE fallback_used)    AS fallbacks,
    sum(cost_usd)                            AS cost_usd,
    sum(output_tokens)::BIGINT                       AS output_tokens
FROM scoped
GROUP BY ALL
