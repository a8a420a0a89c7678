-- Reconnaissance calls (object lists, describe, limits, count-style queries) and export calls
-- (Bulk query jobs, their results, large queries): the raw rows recon_then_export reads.
WITH calls AS (
    SELECT e.org_id, e.ts, e.request_id, e.event_type, e.connected_app_id, left(e.user_id, 15) AS user15,
           e.user_name, e.api_resource, e.http_method, e.entity_name, e.rows_processed,
           effective_ip(e.client_ip, e.source_ip) AS ip,
           CASE
             WHEN regexp_matches(e.api_resource, '/sobjects/?$') THEN 'list objects'
             WHEN regexp_matches(e.api_resource, '(?i)/describe/?$|^describe') THEN 'describe'
             WHEN regexp_matches(e.api_resource, '/limits/?$') THEN 'limits'
             WHEN e.event_type <> 'ApiTotalUsage' AND regexp_matches(e.api_resource, '(?i)query')
                  AND e.rows_processed <= 1 THEN 'count query'
           END AS recon,
           CASE
             WHEN e.event_type IN ('BulkApi2', 'BulkApi')
                  AND lower(json_extract_string(e.attributes, '$.OPERATION_TYPE')) IN ('query', 'queryall')
                  THEN 'bulk query job'
             WHEN regexp_matches(e.api_resource, '/jobs/query/?$') AND e.http_method = 'POST' THEN 'bulk query created'
             WHEN regexp_matches(e.api_resource, '/jobs/query/[^/]+/results') THEN 'bulk results'
             WHEN e.rows_processed >= $min_export_rows THEN 'large query'
           END AS export
      FROM events e
     WHERE e.event_type IN ('BulkApi2', 'BulkApi')
        OR (e.org_id, e.event_type) IN (SELECT (org_id, event_type) FROM api_event_types)
)
SELECT * FROM calls WHERE recon IS NOT NULL OR export IS NOT NULL;
