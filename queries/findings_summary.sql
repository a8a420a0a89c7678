-- Stored findings (not suppressed) by severity and family.
SELECT category, severity, count(*) AS findings
  FROM findings WHERE NOT suppressed
 GROUP BY ALL
 ORDER BY category, severity;
