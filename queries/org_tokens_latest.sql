-- The OAuth tokens of the latest token snapshot of each org: holder, created, last used, use count.
WITH latest AS (
    SELECT org_id, max_by(snapshot_id, taken_at) AS snapshot_id, max(taken_at) AS taken_at
      FROM org_snapshots WHERE object = 'OauthToken' GROUP BY org_id
)
SELECT t.org_id, l.taken_at, t.token_id, t.app_name, t.user_id, t.user_name, t.user_profile,
       t.created_date, t.last_used_date, t.use_count
  FROM oauth_tokens t JOIN latest l USING (snapshot_id)
 ORDER BY t.app_name, t.last_used_date DESC NULLS LAST, t.user_name;
