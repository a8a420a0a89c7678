-- Days with events per org x event type (for status: coverage and gaps).
SELECT org_id, event_type, CAST(hour AS DATE) AS day, sum(calls) AS events
  FROM hourly_activity
 GROUP BY ALL
 ORDER BY org_id, event_type, day;
