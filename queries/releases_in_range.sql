-- Release events in [$start, $end), oldest first, with the artifact's request
-- column so callers can compare cohorts. Returns the release contract columns
-- (commit and url are null in release files written before they existed).
-- params: $start, $end
SELECT ts, service, artifact, version, previous_version, rollout_pct, author, note, scope, "commit", url
FROM releases
WHERE ts >= $start AND ts < $end
ORDER BY ts, artifact
