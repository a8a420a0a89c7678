-- Per org x event type: events, first/last event, files and rejected rows.
WITH activity AS (
    SELECT org_id, event_type, sum(calls) AS events, min(first_ts) AS first_event,
           max(last_ts) AS last_event, count(DISTINCT CAST(hour AS DATE)) AS days_covered
      FROM hourly_activity GROUP BY ALL
), file_counts AS (
    SELECT org_id, event_type, count(*) AS files, sum(rows_rejected) AS rejected_rows
      FROM files WHERE status = 'ingested' GROUP BY ALL
)
SELECT coalesce(a.org_id, f.org_id) AS org_id,
       coalesce(a.event_type, f.event_type) AS event_type,
       coalesce(a.days_covered, 0) AS days_covered,
       a.first_event, a.last_event,
       coalesce(a.events, 0) AS events,
       coalesce(f.files, 0) AS files,
       coalesce(f.rejected_rows, 0) AS rejected_rows
  FROM activity a FULL OUTER JOIN file_counts f USING (org_id, event_type)
 ORDER BY org_id, event_type;
