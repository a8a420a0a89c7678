-- LoginHistory logins in the grain of api_activity_hourly (per hour x app x user x address), for
-- the orgs without Login event logs (see the login_history_logins view): where an app and its
-- users were seen from, beside the addresses of their API calls. A login is one "call"; failed
-- logins are its errors and authentication failures.
SELECT org_id, date_trunc('hour', ts) AS hour, connected_app_id, any_value(application) AS connected_app_name,
       user_id, any_value(user_name) AS user_name, NULL::VARCHAR AS client_name, ip,
       NULL::VARCHAR AS entity_name,
       count(*) AS calls,
       count(*) FILTER (WHERE is_failure) AS errors,
       count(*) FILTER (WHERE is_failure) AS auth_failures,
       0::BIGINT AS rows_processed,
       0::BIGINT AS writes,
       0::BIGINT AS bulk_calls,
       min(ts) AS first_ts,
       max(ts) AS last_ts
  FROM login_history_logins
 GROUP BY org_id, date_trunc('hour', ts), connected_app_id, user_id, ip;
