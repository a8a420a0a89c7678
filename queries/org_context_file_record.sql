-- Record an org-context export as loaded.
INSERT INTO org_context_files (content_hash, path, object, rows_read, rows_added, loaded_at)
VALUES ($content_hash, $path, $object, $rows_read, $rows_added, $loaded_at);
