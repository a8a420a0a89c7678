-- Back-check: API calls per hour of the window for the scope (in_scope macro), with errors, IPs, objects.
SELECT hour, CAST(sum(calls) AS BIGINT) AS calls, CAST(sum(errors) AS BIGINT) AS errors, count(DISTINCT ip) AS ips,
       count(DISTINCT entity_name) AS objects
  FROM api_activity
 WHERE in_scope(connected_app_id, user_id, ip) AND hour >= $start AND hour < $end
 GROUP BY hour
 ORDER BY hour;
