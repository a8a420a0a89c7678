-- Stored findings overlapping a window ($start, $end), with the addresses their evidence names.
SELECT f.id, f.detector, f.category, f.severity, f.score, f.org_id, f.entity_type, f.entity_id,
       f.entity_label, f.window_start, f.window_end, f.explanation,
       CAST(json_extract(f.evidence, '$.ips') AS VARCHAR[]) AS ips,
       coalesce(t.status, 'new') AS status
  FROM findings f LEFT JOIN triage t ON t.finding_id = f.id
 WHERE f.window_start < $end AND f.window_end >= $start AND NOT f.suppressed
 ORDER BY f.score DESC, f.window_start;
