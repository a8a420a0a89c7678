-- Stored findings whose evidence names one address ($ip).
SELECT id, detector, severity, score, entity_label, window_start, explanation
  FROM findings
 WHERE list_contains(CAST(json_extract(evidence, '$.ips') AS VARCHAR[]), $ip)
 ORDER BY score DESC, window_start;
