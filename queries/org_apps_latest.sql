-- The connected apps of the latest ConnectedApplication snapshot of each org, with their policies.
WITH latest AS (
    SELECT org_id, max_by(snapshot_id, taken_at) AS snapshot_id, max(taken_at) AS taken_at
      FROM org_snapshots WHERE object = 'ConnectedApplication' GROUP BY org_id
)
SELECT a.org_id, l.taken_at, a.app_id, a.name, a.admin_approved_only, a.refresh_token_policy,
       a.refresh_valid_until_revoked, a.ip_relaxation, a.session_timeout, a.created_date,
       a.last_modified_date
  FROM connected_apps a JOIN latest l USING (snapshot_id)
 ORDER BY a.name;
