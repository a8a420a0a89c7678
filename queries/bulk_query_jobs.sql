-- Bulk API query jobs (BulkApi2 and BulkApi logs) with the rows they returned.
SELECT org_id,
       ts,
       request_id,
       left(user_id, 15) AS user15,
       user_name,
       entity_name,
       rows_processed,
       coalesce(json_extract_string(attributes, '$.JOB_ID'), '') AS job_id,
       effective_ip(client_ip, source_ip) AS ip
  FROM events
 WHERE event_type IN ('BulkApi2', 'BulkApi')
   AND lower(json_extract_string(attributes, '$.OPERATION_TYPE')) IN ('query', 'queryall');
