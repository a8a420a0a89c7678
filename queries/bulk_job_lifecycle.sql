-- Every Bulk API job seen in the logs: when it first appears, who ran it, and when it was deleted.
WITH mentions AS (
    SELECT org_id, ts, request_id, connected_app_id, left(user_id, 15) AS user15, user_name, http_method,
           entity_name, ip,
           coalesce(regexp_extract(api_resource, '/jobs/(?:query|ingest)/([A-Za-z0-9]{15,18})', 1),
                    regexp_extract(api_resource, '/job/([A-Za-z0-9]{15,18})', 1)) AS job_id,
           CASE WHEN regexp_matches(api_resource, '/jobs/query') THEN 'query' ELSE 'ingest' END AS job_kind
      FROM signal_events
     WHERE api_family = 'Bulk' AND regexp_matches(api_resource, '/jobs?/')
)
SELECT org_id, job_id, any_value(job_kind) AS job_kind, min(ts) AS first_seen,
       min(ts) FILTER (WHERE http_method = 'DELETE') AS deleted_at,
       any_value(connected_app_id) FILTER (WHERE connected_app_id IS NOT NULL) AS connected_app_id,
       any_value(user15) AS user15, any_value(user_name) AS user_name,
       list(DISTINCT ip) FILTER (WHERE ip IS NOT NULL) AS ips,
       any_value(entity_name) FILTER (WHERE entity_name IS NOT NULL) AS entity_name,
       list(request_id ORDER BY ts)[1:10] AS request_ids
  FROM mentions
 WHERE job_id IS NOT NULL AND job_id <> ''
 GROUP BY org_id, job_id;
