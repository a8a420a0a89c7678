-- Objects touched from one address ($ip), with calls and rows, reads versus writes.
SELECT entity_name AS object, sum(calls) AS calls, sum(rows_processed) AS rows_processed,
       sum(calls) FILTER (WHERE http_method IN ('POST', 'PATCH', 'PUT', 'DELETE')) AS writes
  FROM hourly_activity
 WHERE ip = $ip AND entity_name IS NOT NULL
 GROUP BY ALL
 ORDER BY calls DESC;
