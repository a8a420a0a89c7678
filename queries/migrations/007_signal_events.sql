-- The few raw events the sequence, error and export detectors read (logins, 401/403s, bulk job
-- calls, reconnaissance-shaped calls, large results), kept beside the hourly aggregate so a scan
-- never reads every event. Ingest refreshes it with the aggregate (refresh_hourly_activity.sql).
CREATE TABLE IF NOT EXISTS signal_events (
    org_id           VARCHAR NOT NULL,
    event_type       VARCHAR NOT NULL,
    ts               TIMESTAMP NOT NULL,
    request_id       VARCHAR,
    connected_app_id VARCHAR,
    user_id          VARCHAR,
    user_name        VARCHAR,
    api_resource     VARCHAR,
    api_family       VARCHAR,
    http_method      VARCHAR,
    entity_name      VARCHAR,
    status_code      INTEGER,
    rows_processed   BIGINT,
    is_error         BOOLEAN NOT NULL,
    ip               VARCHAR,            -- effective_ip(client_ip, source_ip)
    operation_type   VARCHAR,            -- OPERATION_TYPE of bulk job logs
    job_id           VARCHAR             -- JOB_ID of bulk job logs
);

CREATE OR REPLACE MACRO is_signal_event(event_type, api_family, api_resource, status_code, rows_processed) AS
    event_type IN ('Login', 'BulkApi2', 'BulkApi')
    OR api_family = 'Bulk'
    OR contains(api_resource, '/jobs/')
    OR status_code IN (401, 403)
    OR rows_processed >= 100
    OR suffix(api_resource, '/sobjects') OR suffix(api_resource, '/sobjects/')
    OR api_resource ILIKE '%/describe' OR api_resource ILIKE '%/describe/' OR api_resource ILIKE 'describe%'
    OR suffix(api_resource, '/limits') OR suffix(api_resource, '/limits/')
    OR (event_type <> 'ApiTotalUsage' AND rows_processed <= 1 AND api_resource ILIKE '%query%');

INSERT INTO signal_events
SELECT org_id, event_type, ts, request_id, connected_app_id, user_id, user_name, api_resource, api_family,
       http_method, entity_name, status_code, rows_processed, is_error, effective_ip(client_ip, source_ip),
       json_extract_string(attributes, '$.OPERATION_TYPE'), json_extract_string(attributes, '$.JOB_ID')
  FROM events
 WHERE is_signal_event(event_type, api_family, api_resource, status_code, rows_processed);

-- Client strings (user agent, client name) per hour, app, user and address: what the suspicious
-- client detector compares with its configurable list, without reading every event.
CREATE TABLE IF NOT EXISTS client_hourly (
    org_id           VARCHAR NOT NULL,
    event_type       VARCHAR NOT NULL,
    hour             TIMESTAMP NOT NULL,
    connected_app_id VARCHAR,
    user_id          VARCHAR,            -- first 15 characters
    user_name        VARCHAR,
    ip               VARCHAR,
    user_agent       VARCHAR,
    client_name      VARCHAR,
    events           BIGINT NOT NULL,
    first_ts         TIMESTAMP NOT NULL,
    last_ts          TIMESTAMP NOT NULL,
    request_ids      VARCHAR[]           -- the first three, in time order (a sample for evidence)
);

INSERT INTO client_hourly
SELECT org_id, event_type, date_trunc('hour', ts), connected_app_id, left(user_id, 15), any_value(user_name),
       effective_ip(client_ip, source_ip), user_agent, client_name, count(*), min(ts), max(ts),
       min_by(request_id, ts, 3)
  FROM events
 WHERE user_agent IS NOT NULL OR client_name IS NOT NULL
 GROUP BY ALL;
