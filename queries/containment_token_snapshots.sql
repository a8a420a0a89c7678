-- The times of every OauthToken snapshot (an empty one too: all tokens revoked), oldest first.
SELECT DISTINCT taken_at FROM org_snapshots WHERE object = 'OauthToken' ORDER BY taken_at;
