-- Events whose user agent or client name is one of $clients (compared case-insensitively).
SELECT org_id, ts, request_id, event_type, connected_app_id, left(user_id, 15) AS user15, user_name,
       coalesce(CASE WHEN lower(user_agent) IN (SELECT unnest($clients)) THEN user_agent END, client_name) AS client,
       CASE WHEN client_ip = 'Salesforce.com IP' AND source_ip IS NOT NULL THEN source_ip
            ELSE client_ip END AS ip
  FROM events
 WHERE lower(user_agent) IN (SELECT unnest($clients)) OR lower(client_name) IN (SELECT unnest($clients));
