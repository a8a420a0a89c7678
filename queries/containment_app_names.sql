-- Every connected app the store can name: (org, id, name) from the logs, connected apps, tokens
-- and logins (org ids at 15 characters; NULL where the row did not say).
SELECT DISTINCT left(org_id, 15) AS org15, left(connected_app_id, 15) AS app_id, connected_app_name AS name
  FROM hourly_activity WHERE connected_app_id IS NOT NULL
UNION SELECT DISTINCT left(org_id, 15), left(app_id, 15), name FROM connected_apps
UNION SELECT DISTINCT left(org_id, 15), NULL, app_name FROM oauth_tokens
UNION SELECT DISTINCT left(org_id, 15), NULL, application FROM login_history WHERE application IS NOT NULL AND application <> '';
