-- Back-check: objects touched in the window with calls, writes, rows processed, and whether the
-- scope ever touched them before the window. Creating, closing or deleting a bulk job is not a
-- write of data (only an ingest job's upload, PUT, is).
WITH api AS (
    SELECT entity_name, CAST(sum(calls) AS BIGINT) AS calls,
           CAST(coalesce(sum(calls) FILTER (WHERE http_method IN ('POST', 'PATCH', 'PUT', 'DELETE')
                   AND NOT (api_family = 'Bulk' AND http_method <> 'PUT')), 0) AS BIGINT) AS writes
      FROM api_activity
     WHERE in_scope(connected_app_id, user_id, ip) AND hour >= $start AND hour < $end AND entity_name IS NOT NULL
     GROUP BY entity_name
), processed AS (
    SELECT entity_name, CAST(sum(rows_processed) AS BIGINT) AS rows_processed
      FROM hourly_activity
     WHERE in_scope(connected_app_id, user_id, ip) AND hour >= $start AND hour < $end AND entity_name IS NOT NULL
     GROUP BY entity_name
)
SELECT coalesce(a.entity_name, p.entity_name) AS object,
       coalesce(a.calls, 0) AS calls,
       coalesce(a.writes, 0) AS writes,
       coalesce(p.rows_processed, 0) AS rows_processed,
       NOT EXISTS (SELECT 1 FROM hourly_activity h
                    WHERE h.entity_name = coalesce(a.entity_name, p.entity_name) AND h.hour < $start
                      AND in_scope(h.connected_app_id, h.user_id, h.ip)) AS first_touched
  FROM api a FULL OUTER JOIN processed p USING (entity_name)
 ORDER BY rows_processed DESC, calls DESC;
