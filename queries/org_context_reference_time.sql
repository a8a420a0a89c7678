-- "Now" for posture: the latest org snapshot, else the latest event or login, else NULL.
SELECT coalesce(
    (SELECT max(taken_at) FROM org_snapshots),
    greatest((SELECT max(last_ts) FROM hourly_activity), (SELECT max(login_time) FROM login_history))
) AS reference_time;
