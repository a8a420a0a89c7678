-- Findings at or above a severity ($severities) not yet delivered to $target, oldest first.
SELECT f.* FROM findings f
  LEFT JOIN triage t ON t.finding_id = f.id
  LEFT JOIN notifications n ON n.finding_id = f.id AND n.target = $target
 WHERE list_contains($severities, f.severity) AND NOT f.suppressed
   AND coalesce(t.status, 'new') NOT IN ('benign', 'false_positive')
   AND coalesce(n.status, '') <> 'sent'
 ORDER BY f.window_start, f.id;
