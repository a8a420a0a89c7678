-- What the store knows after a moment: the last event, the last login, the last token snapshot.
SELECT (SELECT max(last_ts) FROM hourly_activity) AS last_event,
       (SELECT max(login_time) FROM login_history) AS last_login,
       (SELECT max(taken_at) FROM org_snapshots WHERE object = 'OauthToken') AS last_token_snapshot;
