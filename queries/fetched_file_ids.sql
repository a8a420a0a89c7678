-- The EventLogFile ids already fetched for one org ($org_key).
SELECT log_file_id FROM fetched_files WHERE org_key = $org_key;
