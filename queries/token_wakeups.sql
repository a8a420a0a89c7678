-- OAuth tokens whose LastUsedDate jumped, between two snapshots, after at least $min_gap_days idle
-- (or, never used before, that many days after their creation): the app, holder and gap.
WITH seen AS (
    SELECT s.taken_at, t.org_id, t.app_name, t.user_id, t.user_name, t.created_date, t.last_used_date,
           t.use_count,
           coalesce(t.token_id, t.app_name || '|' || coalesce(t.user_id, '') || '|' || coalesce(t.created_date::VARCHAR, '')) AS token_key
      FROM oauth_tokens t JOIN org_snapshots s USING (snapshot_id)
), paired AS (
    SELECT *,
           lag(last_used_date) OVER (PARTITION BY token_key ORDER BY taken_at) AS previous_use,
           lag(use_count) OVER (PARTITION BY token_key ORDER BY taken_at) AS previous_count,
           lag(taken_at) OVER (PARTITION BY token_key ORDER BY taken_at) AS previous_snapshot
      FROM seen
), apps AS (
    SELECT DISTINCT lower(trim(name)) AS name_key, left(app_id, 15) AS app_id FROM connected_apps WHERE app_id IS NOT NULL
)
SELECT p.org_id, p.token_key, p.app_name, a.app_id, p.user_id, p.user_name, p.created_date,
       coalesce(p.previous_use, p.created_date) AS idle_since,
       p.last_used_date AS woke_at,
       date_diff('day', coalesce(p.previous_use, p.created_date), p.last_used_date) AS idle_days,
       p.use_count, p.previous_count, p.previous_snapshot, p.taken_at
  FROM paired p LEFT JOIN apps a ON a.name_key = lower(trim(p.app_name))
 WHERE p.previous_snapshot IS NOT NULL
   AND p.last_used_date IS NOT NULL
   AND p.last_used_date > coalesce(p.previous_use, p.created_date)
   AND date_diff('day', coalesce(p.previous_use, p.created_date), p.last_used_date) >= $min_gap_days
 ORDER BY woke_at;
