-- Hours whose user agent or client name is one of $clients (compared case-insensitively), from
-- the client-string aggregate ingest keeps.
SELECT org_id, event_type, hour, connected_app_id, user_id AS user15, user_name, ip, events, first_ts, last_ts,
       request_ids,
       CASE WHEN list_contains($clients, lower(user_agent)) THEN user_agent ELSE client_name END AS client
  FROM client_hourly
 WHERE list_contains($clients, lower(user_agent)) OR list_contains($clients, lower(client_name));
