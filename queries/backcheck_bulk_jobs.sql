-- Back-check: Bulk API jobs of the scope in the window: object, when first seen, when deleted, rows.
WITH mentions AS (
    SELECT ts, http_method, entity_name, rows_processed, effective_ip(client_ip, source_ip) AS ip,
           regexp_extract(api_resource, '/jobs/(?:query|ingest)/([A-Za-z0-9]{15,18})', 1) AS job_id,
           CASE WHEN regexp_matches(api_resource, '/jobs/query') THEN 'query' ELSE 'ingest' END AS job_kind
      FROM events
     WHERE api_family = 'Bulk' AND regexp_matches(api_resource, '/jobs/')
       AND in_scope(connected_app_id, left(user_id, 15), effective_ip(client_ip, source_ip))
       AND ts >= $start AND ts < $end
)
SELECT job_id, any_value(job_kind) AS job_kind, any_value(entity_name) AS object, min(ts) AS first_seen,
       min(ts) FILTER (WHERE http_method = 'DELETE') AS deleted_at, list(DISTINCT ip) AS ips, count(*) AS calls,
       CAST(coalesce(sum(rows_processed), 0) AS BIGINT) AS rows_processed
  FROM mentions
 WHERE job_id <> ''
 GROUP BY job_id
 ORDER BY first_seen;
