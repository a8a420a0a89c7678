-- Moves the fetch cursor of $org_key to the EventLogFile just archived and ingested ($created, $log_file_id).
INSERT INTO sync_state VALUES ($org_key, $created, $log_file_id, $updated_at)
    ON CONFLICT (org_key) DO UPDATE SET cursor_created = excluded.cursor_created,
        cursor_id = excluded.cursor_id, updated_at = excluded.updated_at;
