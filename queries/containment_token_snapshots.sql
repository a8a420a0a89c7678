-- The times of every OauthToken snapshot (an empty one too: all tokens revoked), oldest first,
-- with their org (15 characters; NULL where unknown).
SELECT DISTINCT taken_at, left(org_id, 15) AS org15 FROM org_snapshots WHERE object = 'OauthToken' ORDER BY taken_at;
