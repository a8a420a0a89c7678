-- Every OAuth token of every snapshot, with its snapshot's time (containment compares them).
SELECT s.snapshot_id, s.taken_at, s.org_id, t.token_id, t.app_name, t.user_id, t.user_name, t.user_profile,
       t.created_date, t.last_used_date, t.use_count
  FROM oauth_tokens t JOIN org_snapshots s USING (snapshot_id)
 ORDER BY s.taken_at, t.app_name, t.user_name;
