-- LoginHistory logins as the login detectors read them, for the orgs whose store has no Login
-- event logs: Event Monitoring's Login log says the same more precisely, and reading both would
-- count every login twice. An org without the Event Monitoring licence still has LoginHistory
-- (six months of every login, each OAuth app login with its application and address).
--
-- Org ids compare on their first 15 characters (an export may carry the 18-character form) and
-- take the events' spelling; user ids keep 15 characters, as in the hourly aggregate. The application's name is matched, case-insensitively, with the
-- connected apps the org's API activity and its ConnectedApplication snapshots name, so a login
-- lands on the same app entity as that app's calls; a login whose application neither names
-- (a browser, a mobile app) belongs to its user. Rows without an org (an export ingested into a
-- store of several orgs without --org) cannot be placed and are left out.
CREATE OR REPLACE VIEW login_history_logins AS
WITH history_orgs AS (
    -- Only these orgs' activity is read: with no LoginHistory the view costs nothing.
    SELECT DISTINCT left(org_id, 15) AS org15 FROM login_history WHERE org_id IS NOT NULL
), activity AS (
    SELECT h.org_id, h.event_type, h.connected_app_id, h.connected_app_name, left(h.org_id, 15) AS org15
      FROM hourly_activity h SEMI JOIN history_orgs o ON left(h.org_id, 15) = o.org15
), event_orgs AS (
    SELECT org15, min(org_id) AS org_id, bool_or(event_type = 'Login') AS has_login_logs
      FROM activity
     GROUP BY org15
), app_names AS (
    SELECT org15, lower(trim(connected_app_name)) AS app_key, connected_app_id AS app_id
      FROM activity
     WHERE connected_app_id IS NOT NULL AND connected_app_name IS NOT NULL
    UNION ALL
    SELECT left(org_id, 15), lower(trim(name)), app_id
      FROM connected_apps
     WHERE app_id IS NOT NULL AND name IS NOT NULL
), apps AS (
    SELECT org15, app_key, min(app_id) AS connected_app_id FROM app_names GROUP BY org15, app_key
)
SELECT coalesce(o.org_id, l.org_id) AS org_id,
       l.login_time AS ts,
       l.record_key AS request_id,
       a.connected_app_id,
       nullif(trim(l.application), '') AS application,
       left(l.user_id, 15) AS user_id,
       l.user_name,
       nullif(l.source_ip, '') AS ip,
       l.country_iso,
       coalesce(lower(l.status) <> 'success', false) AS is_failure
  FROM login_history l
  LEFT JOIN event_orgs o ON o.org15 = left(l.org_id, 15)
  LEFT JOIN apps a ON a.org15 = left(l.org_id, 15) AND a.app_key = lower(trim(l.application))
 WHERE l.org_id IS NOT NULL AND NOT coalesce(o.has_login_logs, false);
