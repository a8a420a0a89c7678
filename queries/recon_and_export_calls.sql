-- Reconnaissance calls (object lists, describe, limits, count-style queries) and export calls
-- (Bulk query jobs, their results, large queries): the raw rows recon_then_export reads, from
-- the signal events ingest keeps (large results are kept from 100 rows, so $min_export_rows
-- below 100 finds no more than 100 would).
WITH api AS (
    SELECT * FROM signal_events WHERE event_type IN ('BulkApi2', 'BulkApi')
    UNION ALL
    SELECT s.* FROM signal_events s SEMI JOIN api_event_types USING (org_id, event_type)
), picked AS (
    SELECT *, rtrim(api_resource, '/') AS resource, lower(rtrim(api_resource, '/')) AS resource_lower FROM api
)
SELECT org_id, ts, request_id, event_type, connected_app_id, left(user_id, 15) AS user15,
       user_name, api_resource, http_method, entity_name, rows_processed, ip,
       CASE
         WHEN suffix(resource, '/sobjects') THEN 'list objects'
         WHEN suffix(resource_lower, '/describe') OR starts_with(resource_lower, 'describe') THEN 'describe'
         WHEN suffix(resource, '/limits') THEN 'limits'
         WHEN event_type <> 'ApiTotalUsage' AND rows_processed <= 1 AND contains(resource_lower, 'query')
              THEN 'count query'
       END AS recon,
       CASE
         WHEN event_type IN ('BulkApi2', 'BulkApi') AND lower(operation_type) IN ('query', 'queryall')
              THEN 'bulk query job'
         WHEN suffix(resource, '/jobs/query') AND http_method = 'POST' THEN 'bulk query created'
         WHEN contains(resource, '/jobs/query/') AND suffix(resource, '/results') THEN 'bulk results'
         -- A large result of a query; a bulk ingest (upsert) job's record count is not an export.
         WHEN rows_processed >= $min_export_rows AND event_type NOT IN ('BulkApi2', 'BulkApi')
              THEN 'large query'
       END AS export
  FROM picked
 WHERE recon IS NOT NULL OR export IS NOT NULL;
