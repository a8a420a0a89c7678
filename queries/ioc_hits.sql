-- Events matching indicators ($ips, $clients lower-cased, $apps and $users as 15-character ids)
-- between $since and $until, per indicator value: first/last seen, events, entities, objects.
WITH matches AS (
    SELECT 'ip' AS kind, effective_ip(client_ip, source_ip) AS value, * FROM events
     WHERE list_contains($ips, effective_ip(client_ip, source_ip))
    UNION ALL
    SELECT 'client', coalesce(CASE WHEN list_contains($clients, lower(user_agent)) THEN user_agent END, client_name), *
      FROM events WHERE list_contains($clients, lower(user_agent)) OR list_contains($clients, lower(client_name))
    UNION ALL
    SELECT 'app', left(connected_app_id, 15), * FROM events WHERE list_contains($apps, left(connected_app_id, 15))
    UNION ALL
    SELECT 'user', left(user_id, 15), * FROM events WHERE list_contains($users, left(user_id, 15))
)
SELECT kind, value, org_id, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS events,
       list(DISTINCT event_type ORDER BY event_type) AS event_types,
       list(DISTINCT left(connected_app_id, 15)) FILTER (WHERE connected_app_id IS NOT NULL) AS apps,
       list(DISTINCT connected_app_name) FILTER (WHERE connected_app_name IS NOT NULL) AS app_names,
       list(DISTINCT coalesce(user_name, user_id)) FILTER (WHERE user_id IS NOT NULL) AS users,
       list(DISTINCT entity_name) FILTER (WHERE entity_name IS NOT NULL) AS objects,
       list(DISTINCT effective_ip(client_ip, source_ip)) FILTER (WHERE client_ip IS NOT NULL OR source_ip IS NOT NULL) AS ips,
       list(request_id ORDER BY ts)[1:5] AS request_ids
  FROM matches
 WHERE ts >= $since AND ts < $until
 GROUP BY kind, value, org_id
 ORDER BY first_seen;
