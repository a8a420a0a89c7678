-- Record one snapshot of tokens or connected apps.
INSERT INTO org_snapshots (snapshot_id, org_id, object, taken_at, source, content_hash, rows, loaded_at)
VALUES ($snapshot_id, $org_id, $object, $taken_at, $source, $content_hash, $rows, $loaded_at);
