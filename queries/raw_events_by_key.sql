-- One page of raw events in a scope ($entity app or user id, $ip address, $start to $end; NULL
-- means any), by key: the $limit rows after ({bound} = '>', {direction} = ASC) or before ('<',
-- DESC) the row whose key is ($key_ts, $key_request, $key_type, $key_org, $key_content), or the
-- first ones when $key_ts is NULL. The key columns come last (views.raw_events splits them off).
-- Keyset paging: a deep page costs what the first one does (LIMIT/OFFSET reads and sorts every
-- row it skips, see raw_events_page.sql). The plain `ts >=`/`ts <=` term lets DuckDB skip row
-- groups by their min/max timestamps.
SELECT ts AS time,
       coalesce(user_name, user_id) AS "user",
       effective_ip(client_ip, source_ip) AS address,
       entity_name AS object,
       coalesce(api_resource, api_family) AS resource,
       status_code AS status,
       coalesce(client_name, connected_app_name, user_agent) AS client,
       request_id,
       event_type,
       ts, coalesce(request_id, ''), event_type, org_id, coalesce(content_key, '')
  FROM events
 WHERE ($entity IS NULL
        OR left(connected_app_id, 15) = left($entity, 15)
        OR (connected_app_id IS NULL AND left(user_id, 15) = left($entity, 15)))
   AND ($ip IS NULL OR effective_ip(client_ip, source_ip) = $ip)
   AND ($start IS NULL OR ts >= $start)
   AND ($end IS NULL OR ts < $end)
   AND ($key_ts IS NULL OR ts {bound}= $key_ts)
   AND ($key_ts IS NULL OR (ts, coalesce(request_id, ''), event_type, org_id, coalesce(content_key, ''))
                           {bound} ($key_ts, $key_request, $key_type, $key_org, $key_content))
 ORDER BY ts {direction}, coalesce(request_id, '') {direction}, event_type {direction}, org_id {direction},
          coalesce(content_key, '') {direction}
 LIMIT $limit
