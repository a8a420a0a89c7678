-- Back-check: users and connected apps active for the scope in the window.
SELECT connected_app_id, any_value(connected_app_name) AS connected_app_name, user_id,
       any_value(user_name) AS user_name, CAST(sum(calls) AS BIGINT) AS events,
       list(DISTINCT event_type ORDER BY event_type) AS event_types,
       list(DISTINCT client_name ORDER BY client_name) FILTER (WHERE client_name IS NOT NULL) AS clients
  FROM hourly_activity
 WHERE in_scope(connected_app_id, user_id, ip) AND hour >= $start AND hour < $end
 GROUP BY connected_app_id, user_id
 ORDER BY events DESC;
