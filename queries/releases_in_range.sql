-- Release events in [$start, $end), oldest first, with the artifact's request
-- column so callers can compare cohorts. Returns the release contract columns.
-- params: $start, $end
SELECT ts, service, artifact, version, previous_version, rollout_pct, author, note, scope
FROM releases
WHERE ts >= $start AND ts < $end
ORDER BY ts, artifact
