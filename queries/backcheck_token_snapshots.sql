-- Every OauthToken snapshot (an empty one too: all tokens revoked) with its org, oldest first.
SELECT snapshot_id, org_id, taken_at FROM org_snapshots WHERE object = 'OauthToken' ORDER BY taken_at, snapshot_id;
