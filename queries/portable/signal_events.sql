-- The rows of signal_events, from a relation `events` (the Parquet partitions): portable SQL that
-- DuckDB and Spark SQL both run (`workbench aggregate`); the same rows as
-- refresh_hourly_activity.sql (tests/store/test_aggregate.py compares them). is_signal_event and
-- effective_ip are inlined; contains/suffix become LIKE, which both engines read alike.
-- get_json_object is Spark's name; on DuckDB, workbench.store.aggregate defines it as a temporary
-- macro over json_extract_string (the one function the two engines name differently).
SELECT org_id,
       event_type,
       ts,
       request_id,
       connected_app_id,
       user_id,
       user_name,
       api_resource,
       api_family,
       http_method,
       entity_name,
       status_code,
       rows_processed,
       is_error,
       CASE WHEN client_ip = 'Salesforce.com IP' AND coalesce(source_ip, '') <> '' THEN source_ip
            ELSE coalesce(client_ip, source_ip) END AS ip,
       get_json_object(attributes, '$.OPERATION_TYPE') AS operation_type,
       get_json_object(attributes, '$.JOB_ID') AS job_id
  FROM events
 WHERE event_type IN ('Login', 'BulkApi2', 'BulkApi')
    OR api_family = 'Bulk'
    OR api_resource LIKE '%/jobs/%'
    OR status_code IN (401, 403)
    OR rows_processed >= 100
    OR api_resource LIKE '%/sobjects' OR api_resource LIKE '%/sobjects/'
    OR api_resource ILIKE '%/describe' OR api_resource ILIKE '%/describe/' OR api_resource ILIKE 'describe%'
    OR api_resource LIKE '%/limits' OR api_resource LIKE '%/limits/'
    OR (event_type <> 'ApiTotalUsage' AND rows_processed <= 1 AND api_resource ILIKE '%query%')
