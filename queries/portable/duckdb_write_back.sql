-- Not portable (DuckDB, the store's side): replace the aggregates of the (org, event type, hour)
-- ranges that `workbench aggregate` computed, in one transaction the caller opens. new_hourly,
-- new_signal_events and new_client_hourly are the portable queries' results (Arrow); an org x
-- event type's range runs from $since (else its first hour) to $until (else after its last hour),
-- as ingest's refresh deletes and rebuilds the hours a file touched.
CREATE OR REPLACE TEMP TABLE aggregate_ranges AS
SELECT org_id, event_type,
       coalesce(CAST($since AS TIMESTAMP), min(hour)) AS range_start,
       coalesce(CAST($until AS TIMESTAMP), max(hour) + INTERVAL 1 HOUR) AS range_end
  FROM new_hourly
 GROUP BY org_id, event_type;
DELETE FROM hourly_activity t USING aggregate_ranges r
 WHERE t.org_id = r.org_id AND t.event_type = r.event_type AND t.hour >= r.range_start AND t.hour < r.range_end;
INSERT INTO hourly_activity BY NAME
SELECT org_id, event_type, CAST(hour AS TIMESTAMP) AS hour, connected_app_id, connected_app_name, user_id,
       user_name, client_name, ip, entity_name, api_family, http_method, calls, errors, auth_failures,
       rows_processed, CAST(first_ts AS TIMESTAMP) AS first_ts, CAST(last_ts AS TIMESTAMP) AS last_ts
  FROM new_hourly;
DELETE FROM signal_events t USING aggregate_ranges r
 WHERE t.org_id = r.org_id AND t.event_type = r.event_type AND t.ts >= r.range_start AND t.ts < r.range_end;
INSERT INTO signal_events BY NAME
SELECT org_id, event_type, CAST(ts AS TIMESTAMP) AS ts, request_id, connected_app_id, user_id, user_name,
       api_resource, api_family, http_method, entity_name, status_code, rows_processed, is_error, ip,
       operation_type, job_id
  FROM new_signal_events;
DELETE FROM client_hourly t USING aggregate_ranges r
 WHERE t.org_id = r.org_id AND t.event_type = r.event_type AND t.hour >= r.range_start AND t.hour < r.range_end;
INSERT INTO client_hourly BY NAME
SELECT org_id, event_type, CAST(hour AS TIMESTAMP) AS hour, connected_app_id, user_id, user_name, ip,
       user_agent, client_name, events, CAST(first_ts AS TIMESTAMP) AS first_ts,
       CAST(last_ts AS TIMESTAMP) AS last_ts,
       CASE WHEN request_id_1 IS NULL THEN NULL
            WHEN request_id_2 IS NULL THEN [request_id_1]
            WHEN request_id_3 IS NULL THEN [request_id_1, request_id_2]
            ELSE [request_id_1, request_id_2, request_id_3] END AS request_ids
  FROM new_client_hourly;
