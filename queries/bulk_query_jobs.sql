-- Bulk API query jobs (BulkApi2 and BulkApi logs) with the rows they returned.
SELECT org_id,
       ts,
       request_id,
       left(user_id, 15) AS user15,
       user_name,
       entity_name,
       rows_processed,
       coalesce(json_extract_string(attributes, '$.JOB_ID'), '') AS job_id,
       CASE WHEN client_ip = 'Salesforce.com IP' AND source_ip IS NOT NULL THEN source_ip
            ELSE client_ip END AS ip
  FROM events
 WHERE event_type IN ('BulkApi2', 'BulkApi')
   AND lower(json_extract_string(attributes, '$.OPERATION_TYPE')) IN ('query', 'queryall');
