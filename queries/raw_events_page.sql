-- One page of raw events in a scope ($entity app or user id, $ip address, $start to $end; NULL means any), by time: $limit rows from $offset.
SELECT ts AS time,
       coalesce(user_name, user_id) AS "user",
       effective_ip(client_ip, source_ip) AS address,
       entity_name AS object,
       coalesce(api_resource, api_family) AS resource,
       status_code AS status,
       coalesce(client_name, connected_app_name, user_agent) AS client,
       request_id,
       event_type
  FROM events
 WHERE ($entity IS NULL
        OR left(connected_app_id, 15) = left($entity, 15)
        OR (connected_app_id IS NULL AND left(user_id, 15) = left($entity, 15)))
   AND ($ip IS NULL OR effective_ip(client_ip, source_ip) = $ip)
   AND ($start IS NULL OR ts >= $start)
   AND ($end IS NULL OR ts < $end)
 ORDER BY ts, request_id
 LIMIT $limit OFFSET $offset;
