-- The fetch cursor of one org-context object: the newest record's time (a SOQL literal) and Id.
SELECT cursor_created, cursor_id FROM org_context_cursor WHERE org_key = $org_key AND object = $object;
