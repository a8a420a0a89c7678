-- The rows of hourly_activity, from a relation `events` (the Parquet partitions): portable SQL
-- that DuckDB and Spark SQL both run (`workbench aggregate`). It must give exactly what
-- refresh_hourly_activity.sql gives; tests/store/test_aggregate.py compares them. So: the macros
-- (effective_ip) are inlined, GROUP BY names its columns, no FILTER clause, no any_value (max of a
-- value constant within the group), the BIGINT sum goes through DECIMAL (Spark's ANSI mode fails
-- on a BIGINT overflow where DuckDB widens to HUGEINT) and is clamped as the store clamps it.
WITH e AS (
    SELECT org_id,
           event_type,
           date_trunc('hour', ts) AS hour,
           connected_app_id,
           connected_app_name,
           substr(user_id, 1, 15) AS user_id,
           user_name,
           client_name,
           CASE WHEN client_ip = 'Salesforce.com IP' AND coalesce(source_ip, '') <> '' THEN source_ip
                ELSE coalesce(client_ip, source_ip) END AS ip,
           entity_name,
           api_family,
           http_method,
           CASE WHEN is_error THEN 1 ELSE 0 END AS error,
           CASE WHEN status_code IN (401, 403) OR (event_type = 'Login' AND is_error) THEN 1 ELSE 0 END
               AS auth_failure,
           CAST(rows_processed AS DECIMAL(38, 0)) AS rows_processed,
           ts
      FROM events
)
SELECT org_id,
       event_type,
       hour,
       connected_app_id,
       max(connected_app_name) AS connected_app_name,
       user_id,
       max(user_name) AS user_name,
       client_name,
       ip,
       entity_name,
       api_family,
       http_method,
       count(*) AS calls,
       CAST(sum(error) AS BIGINT) AS errors,
       CAST(sum(auth_failure) AS BIGINT) AS auth_failures,
       CAST(CASE WHEN sum(rows_processed) > 9223372036854775807 THEN 9223372036854775807
                 WHEN sum(rows_processed) < -9223372036854775807 - 1 THEN -9223372036854775807 - 1
                 ELSE coalesce(sum(rows_processed), 0) END AS BIGINT) AS rows_processed,
       min(ts) AS first_ts,
       max(ts) AS last_ts
  FROM e
 GROUP BY org_id, event_type, hour, connected_app_id, user_id, client_name, ip, entity_name, api_family,
          http_method
