-- Records one EventLogFile fetched for $org_key and where its gzipped copy was archived.
INSERT OR REPLACE INTO fetched_files
    VALUES ($org_key, $log_file_id, $event_type, $log_date, $interval, $sequence, $created, $length, $archive_path);
