-- One entity's hourly activity ($entity: connected app id, else user id) between $start and $end.
SELECT hour, CAST(sum(calls) AS BIGINT) AS calls, CAST(sum(errors) AS BIGINT) AS errors,
       count(DISTINCT ip) AS ips, count(DISTINCT entity_name) AS objects
  FROM api_activity
 WHERE (left(connected_app_id, 15) = left($entity, 15) OR (connected_app_id IS NULL AND left(user_id, 15) = left($entity, 15)))
   AND hour >= $start AND hour < $end
 GROUP BY hour
 ORDER BY hour;
