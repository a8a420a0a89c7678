-- The rows of client_hourly, from a relation `events` (the Parquet partitions): portable SQL that
-- DuckDB and Spark SQL both run (`workbench aggregate`); the same rows as
-- refresh_hourly_activity.sql (tests/store/test_aggregate.py compares them). DuckDB's
-- min_by(request_id, ts, 3) has no Spark twin: a row number in time order (ids that are null
-- last, as min_by skips them; the id breaks ties) gives the first three as request_id_1..3, and
-- the store makes them the request_ids list when it writes them (portable/duckdb_write_back.sql).
WITH e AS (
    SELECT org_id,
           event_type,
           date_trunc('hour', ts) AS hour,
           connected_app_id,
           substr(user_id, 1, 15) AS user_id,
           user_name,
           CASE WHEN client_ip = 'Salesforce.com IP' AND coalesce(source_ip, '') <> '' THEN source_ip
                ELSE coalesce(client_ip, source_ip) END AS ip,
           user_agent,
           client_name,
           ts,
           request_id
      FROM events
     WHERE user_agent IS NOT NULL OR client_name IS NOT NULL
),
ranked AS (
    SELECT e.*,
           row_number() OVER (
               PARTITION BY org_id, event_type, hour, connected_app_id, user_id, ip, user_agent, client_name
               ORDER BY CASE WHEN request_id IS NULL THEN 1 ELSE 0 END, ts, request_id
           ) AS sample_rank
      FROM e
)
SELECT org_id,
       event_type,
       hour,
       connected_app_id,
       user_id,
       max(user_name) AS user_name,
       ip,
       user_agent,
       client_name,
       count(*) AS events,
       min(ts) AS first_ts,
       max(ts) AS last_ts,
       max(CASE WHEN sample_rank = 1 THEN request_id END) AS request_id_1,
       max(CASE WHEN sample_rank = 2 THEN request_id END) AS request_id_2,
       max(CASE WHEN sample_rank = 3 THEN request_id END) AS request_id_3
  FROM ranked
 GROUP BY org_id, event_type, hour, connected_app_id, user_id, ip, user_agent, client_name
