-- Calls from one address ($ip) per connected app or user: first/last seen, calls, errors.
SELECT coalesce(connected_app_name, client_name, connected_app_id, user_name, user_id) AS entity,
       connected_app_id, user_id, any_value(user_name) AS user_name,
       min(first_ts) AS first_seen, max(last_ts) AS last_seen,
       sum(calls) AS calls, sum(errors) AS errors, list(DISTINCT event_type ORDER BY event_type) AS event_types
  FROM hourly_activity
 WHERE ip = $ip
 GROUP BY ALL
 ORDER BY calls DESC;
