-- The fetch cursor of one org ($org_key): the (CreatedDate, Id) of the last EventLogFile fetched.
SELECT cursor_created, cursor_id FROM sync_state WHERE org_key = $org_key;
