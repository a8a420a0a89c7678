-- Rebuilds the hourly aggregate for one org x event type over [$start, $end): ingest calls it
-- for the hours a file touched, inside that file's transaction. Where nothing was stored in those
-- hours before, ingest runs only the DELETEs and computes the rows from the events it is adding,
-- still in memory (workbench/store/frame_aggregates.py), rather than reading them back.
DELETE FROM hourly_activity
 WHERE org_id = $org_id AND event_type = $event_type AND hour >= $start AND hour < $end;
INSERT INTO hourly_activity
SELECT org_id,
       event_type,
       date_trunc('hour', ts) AS hour,
       connected_app_id,
       any_value(connected_app_name) AS connected_app_name,
       left(user_id, 15) AS user_id,
       any_value(user_name) AS user_name,
       client_name,
       effective_ip(client_ip, source_ip) AS ip,
       entity_name,
       api_family,
       http_method,
       count(*) AS calls,
       count(*) FILTER (WHERE is_error) AS errors,
       count(*) FILTER (WHERE status_code IN (401, 403)
                           OR (event_type = 'Login' AND is_error)) AS auth_failures,
       -- sum() of BIGINT is a HUGEINT: clamp it into the column's range rather than fail the commit.
       CAST(least(greatest(coalesce(sum(rows_processed), 0), -9223372036854775808), 9223372036854775807)
            AS BIGINT) AS rows_processed,
       min(ts) AS first_ts,
       max(ts) AS last_ts
  FROM events
 WHERE event_type = $event_type AND day BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
   AND org_id = $org_id AND ts >= $start AND ts < $end
 GROUP BY ALL;
DELETE FROM signal_events
 WHERE org_id = $org_id AND event_type = $event_type AND ts >= $start AND ts < $end;
INSERT INTO signal_events
SELECT org_id, event_type, ts, request_id, connected_app_id, user_id, user_name, api_resource, api_family,
       http_method, entity_name, status_code, rows_processed, is_error, effective_ip(client_ip, source_ip),
       json_extract_string(attributes, '$.OPERATION_TYPE'), json_extract_string(attributes, '$.JOB_ID')
  FROM events
 WHERE event_type = $event_type AND day BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
   AND org_id = $org_id AND ts >= $start AND ts < $end
   AND is_signal_event(event_type, api_family, api_resource, status_code, rows_processed);
DELETE FROM client_hourly
 WHERE org_id = $org_id AND event_type = $event_type AND hour >= $start AND hour < $end;
INSERT INTO client_hourly
SELECT org_id, event_type, date_trunc('hour', ts), connected_app_id, left(user_id, 15), any_value(user_name),
       effective_ip(client_ip, source_ip), user_agent, client_name, count(*), min(ts), max(ts),
       min_by(request_id, row(ts, request_id), 3)
  FROM events
 WHERE event_type = $event_type AND day BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
   AND org_id = $org_id AND ts >= $start AND ts < $end
   AND (user_agent IS NOT NULL OR client_name IS NOT NULL)
 GROUP BY ALL;
