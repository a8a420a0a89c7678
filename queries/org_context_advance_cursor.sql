-- Move the fetch cursor of one org-context object forward.
INSERT OR REPLACE INTO org_context_cursor (org_key, object, cursor_created, cursor_id, updated_at)
VALUES ($org_key, $object, $cursor_created, $cursor_id, $updated_at);
