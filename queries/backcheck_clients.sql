-- Back-check: client names and user agents of the scope, in the window and before it.
SELECT coalesce(user_agent, client_name) AS client, ts >= $start AS in_window, count(*) AS events
  FROM events
 WHERE coalesce(user_agent, client_name) IS NOT NULL AND ts < $end
   AND in_scope(connected_app_id, left(user_id, 15), effective_ip(client_ip, source_ip))
   AND event_type IN ('Login', 'ApiTotalUsage', 'API', 'BulkApiRequest')
 GROUP BY ALL;
