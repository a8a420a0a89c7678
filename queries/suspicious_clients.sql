-- Events whose user agent or client name is one of $clients (compared case-insensitively).
SELECT org_id, ts, request_id, event_type, connected_app_id, left(user_id, 15) AS user15, user_name,
       coalesce(CASE WHEN lower(user_agent) IN (SELECT unnest($clients)) THEN user_agent END, client_name) AS client,
       effective_ip(client_ip, source_ip) AS ip
  FROM events
 WHERE lower(user_agent) IN (SELECT unnest($clients)) OR lower(client_name) IN (SELECT unnest($clients));
