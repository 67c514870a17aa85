-- Per time bucket (and per value of one grouping column, `grp`, when asked):
-- the counts and sums every signal is computed from, read from the rollup cells.
-- Rates are derived in Python from numerator/denominator counts, never averaged
-- across buckets; means and variances come from exact sums (of squares, of logs);
-- percentiles from the merged quantile sketch (within sketch.RELATIVE_ERROR), read
-- from signal_quantile_bins.sql and joined on by TelemetryStore.series.
-- Returns: bucket, grp, the registry's count columns (signals.COUNTS: requests,
--   errors, refused, task_success, task_success_n, quality_sum, quality_n, ...),
--   then the per-bucket moments: log_latency_mean, log_latency_var,
--   log_cost_mean, log_cost_var, log_ttft_mean, log_ttft_var,
--   log_input_tokens_mean, log_input_tokens_var, log_output_tokens_mean,
--   log_output_tokens_var, input_tokens_var, output_tokens_var, quality_var
-- params: $bucket_us, $origin (buckets are aligned to it)
WITH counts AS (
    SELECT
        time_bucket(to_microseconds($bucket_us), t, $origin) AS bucket,
        grp,
        @cell_counts,
        sum(COLUMNS('^m_(latency_ms|cost_usd|ttft_ms|input_tokens|output_tokens|quality_score)_'))
    FROM cells
    GROUP BY ALL
),
moments AS (
    SELECT
        COLUMNS(lambda c: NOT starts_with(c, 'm_')),
        m_latency_ms_lnc_sum / m_latency_ms_n                                               AS log_latency_mean,
        var_from_sums(m_latency_ms_lnc_sum, m_latency_ms_lnc_sumsq, m_latency_ms_n)         AS log_latency_var,
        m_cost_usd_lnc_sum / m_cost_usd_n                                                   AS log_cost_mean,
        var_from_sums(m_cost_usd_lnc_sum, m_cost_usd_lnc_sumsq, m_cost_usd_n)               AS log_cost_var,
        m_ttft_ms_log_sum / m_ttft_ms_log_n                                                 AS log_ttft_mean,
        var_from_sums(m_ttft_ms_log_sum, m_ttft_ms_log_sumsq, m_ttft_ms_log_n)              AS log_ttft_var,
        m_input_tokens_log_sum / m_input_tokens_log_n                                       AS log_input_tokens_mean,
        var_from_sums(m_input_tokens_log_sum, m_input_tokens_log_sumsq, m_input_tokens_log_n) AS log_input_tokens_var,
        m_output_tokens_log_sum / m_output_tokens_log_n                                     AS log_output_tokens_mean,
        var_from_sums(m_output_tokens_log_sum, m_output_tokens_log_sumsq, m_output_tokens_log_n) AS log_output_tokens_var,
        var_from_sums(m_input_tokens_sum, m_input_tokens_sumsq, m_input_tokens_n)           AS input_tokens_var,
        var_from_sums(m_output_tokens_sum, m_output_tokens_sumsq, m_output_tokens_n)        AS output_tokens_var,
        var_from_sums(m_quality_score_sum, m_quality_score_sumsq, m_quality_score_n)        AS quality_var
    FROM counts
)
SELECT * FROM moments
ORDER BY bucket, grp
