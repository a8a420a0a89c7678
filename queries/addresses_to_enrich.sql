-- Addresses seen in the logs that have no enrichment from the current sources ($sources).
SELECT DISTINCT h.ip
  FROM hourly_activity h LEFT JOIN ip_info i ON i.ip = h.ip
 WHERE h.ip IS NOT NULL AND (i.ip IS NULL OR i.sources <> $sources)
 ORDER BY h.ip;
