-- Back-check: what kind of API calls the scope made in the window (metadata, describe, bulk
-- jobs, deletes...), by family and method.
SELECT api_family, http_method,
       CASE
         WHEN regexp_matches(api_resource, '/sobjects/?$') THEN 'list objects'
         WHEN regexp_matches(api_resource, '(?i)/describe/?$|^describe') THEN 'describe'
         WHEN regexp_matches(api_resource, '/limits/?$') THEN 'limits'
         WHEN regexp_matches(api_resource, '/jobs/(query|ingest)/?$') AND http_method = 'POST' THEN 'bulk job created'
         WHEN regexp_matches(api_resource, '/jobs/(query|ingest)/[^/]+/results') THEN 'bulk results fetched'
         WHEN regexp_matches(api_resource, '/jobs/(query|ingest)/[^/]+/?$') AND http_method = 'DELETE' THEN 'bulk job deleted'
         WHEN regexp_matches(api_resource, '/jobs/') THEN 'bulk job status'
         WHEN regexp_matches(api_resource, '(?i)query') THEN 'query'
         WHEN http_method = 'DELETE' THEN 'record delete'
         WHEN http_method IN ('POST', 'PATCH', 'PUT') THEN 'record write'
         ELSE 'other read'
       END AS kind,
       count(*) AS calls, min(ts) AS first_call, max(ts) AS last_call
  FROM events
 WHERE (org_id, event_type) IN (SELECT (org_id, event_type) FROM api_event_types)
   AND in_scope(connected_app_id, left(user_id, 15), effective_ip(client_ip, source_ip))
   AND ts >= $start AND ts < $end
 GROUP BY ALL
 ORDER BY calls DESC;
