-- Every connected app the store can name: (id, name) from the logs, connected apps, tokens and logins.
SELECT DISTINCT left(connected_app_id, 15) AS app_id, connected_app_name AS name
  FROM hourly_activity WHERE connected_app_id IS NOT NULL
UNION SELECT DISTINCT left(app_id, 15), name FROM connected_apps
UNION SELECT DISTINCT NULL, app_name FROM oauth_tokens
UNION SELECT DISTINCT NULL, application FROM login_history WHERE application IS NOT NULL AND application <> '';
