-- Reconnaissance calls (object lists, describe, limits, count-style queries) and export calls
-- (Bulk query jobs, their results, large queries): the raw rows recon_then_export reads.
-- Plain suffix and substring tests (no regular expressions) pick the rows in one cheap pass;
-- only those few rows are classified and carry their columns out.
WITH picked AS (
    SELECT org_id, ts, request_id, event_type, connected_app_id, user_id, user_name, api_resource,
           http_method, entity_name, rows_processed, client_ip, source_ip, attributes,
           rtrim(api_resource, '/') AS resource, lower(rtrim(api_resource, '/')) AS resource_lower
      FROM events
     WHERE event_type IN ('BulkApi2', 'BulkApi')
        OR ((org_id, event_type) IN (SELECT (org_id, event_type) FROM api_event_types)
            AND (suffix(api_resource, '/sobjects') OR suffix(api_resource, '/sobjects/')
                 OR api_resource ILIKE '%/describe' OR api_resource ILIKE '%/describe/'
                 OR api_resource ILIKE 'describe%'
                 OR suffix(api_resource, '/limits') OR suffix(api_resource, '/limits/')
                 OR contains(api_resource, '/jobs/query')
                 OR rows_processed >= $min_export_rows
                 OR (event_type <> 'ApiTotalUsage' AND rows_processed <= 1 AND api_resource ILIKE '%query%')))
)
SELECT org_id, ts, request_id, event_type, connected_app_id, left(user_id, 15) AS user15,
       user_name, api_resource, http_method, entity_name, rows_processed,
       effective_ip(client_ip, source_ip) AS ip,
       CASE
         WHEN suffix(resource, '/sobjects') THEN 'list objects'
         WHEN suffix(resource_lower, '/describe') OR starts_with(resource_lower, 'describe') THEN 'describe'
         WHEN suffix(resource, '/limits') THEN 'limits'
         WHEN event_type <> 'ApiTotalUsage' AND rows_processed <= 1 AND contains(resource_lower, 'query')
              THEN 'count query'
       END AS recon,
       CASE
         WHEN event_type IN ('BulkApi2', 'BulkApi')
              AND lower(json_extract_string(attributes, '$.OPERATION_TYPE')) IN ('query', 'queryall')
              THEN 'bulk query job'
         WHEN suffix(resource, '/jobs/query') AND http_method = 'POST' THEN 'bulk query created'
         WHEN contains(resource, '/jobs/query/') AND suffix(resource, '/results') THEN 'bulk results'
         -- A large result of a query; a bulk ingest (upsert) job's record count is not an export.
         WHEN rows_processed >= $min_export_rows AND event_type NOT IN ('BulkApi2', 'BulkApi')
              THEN 'large query'
       END AS export
  FROM picked
 WHERE recon IS NOT NULL OR export IS NOT NULL;
