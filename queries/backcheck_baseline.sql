-- Back-check: the scope's API calls, objects, addresses and hours of day in the same window
-- shifted back 1-4 weeks ($week_starts), to say what is new.
SELECT w.week_start, CAST(sum(a.calls) AS BIGINT) AS calls,
       list(DISTINCT a.entity_name) FILTER (WHERE a.entity_name IS NOT NULL) AS objects,
       list(DISTINCT a.ip) FILTER (WHERE a.ip IS NOT NULL) AS ips,
       list(DISTINCT hour(a.hour)) AS hours
  FROM (SELECT unnest($week_starts::TIMESTAMP[]) AS week_start) w
  LEFT JOIN api_activity a
    ON a.hour >= w.week_start AND a.hour < w.week_start + ($end - $start)
   AND in_scope(a.connected_app_id, a.user_id, a.ip)
 GROUP BY w.week_start
 ORDER BY w.week_start DESC;
