-- Bulk API query jobs (BulkApi2 and BulkApi logs) with the rows they returned.
SELECT org_id, ts, request_id, left(user_id, 15) AS user15, user_name, entity_name, rows_processed,
       coalesce(job_id, '') AS job_id, ip
  FROM signal_events
 WHERE event_type IN ('BulkApi2', 'BulkApi') AND lower(operation_type) IN ('query', 'queryall');
