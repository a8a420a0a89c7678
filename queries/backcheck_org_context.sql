-- What org context the store holds: setup audit trail rows and their span, token and connected-app snapshots, logins.
SELECT (SELECT count(*) FROM setup_audit_trail) AS setup_rows,
       (SELECT min(created_date) FROM setup_audit_trail) AS setup_first,
       (SELECT max(created_date) FROM setup_audit_trail) AS setup_last,
       (SELECT count(*) FROM org_snapshots WHERE object = 'OauthToken') AS token_snapshots,
       (SELECT min(taken_at) FROM org_snapshots WHERE object = 'OauthToken') AS token_first,
       (SELECT max(taken_at) FROM org_snapshots WHERE object = 'OauthToken') AS token_last,
       (SELECT count(*) FROM org_snapshots WHERE object = 'ConnectedApplication') AS app_snapshots,
       (SELECT count(*) FROM login_history) AS logins;
