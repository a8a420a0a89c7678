-- Initial schema: ingested files, normalised events, rejects and hourly activity aggregates.
CREATE SEQUENCE IF NOT EXISTS file_id_seq START 1;

CREATE TABLE IF NOT EXISTS files (
    file_id        INTEGER PRIMARY KEY,
    content_hash   VARCHAR NOT NULL,
    path           VARCHAR NOT NULL,
    member         VARCHAR,          -- name inside a .zip archive
    org_id         VARCHAR,
    event_type     VARCHAR,
    log_date       DATE,             -- day of the file's first event
    first_ts       TIMESTAMP,
    last_ts        TIMESTAMP,
    rows_read      BIGINT NOT NULL DEFAULT 0,
    rows_added     BIGINT NOT NULL DEFAULT 0,
    rows_duplicate BIGINT NOT NULL DEFAULT 0,
    rows_rejected  BIGINT NOT NULL DEFAULT 0,
    bytes_replaced BIGINT NOT NULL DEFAULT 0,  -- non-UTF-8 bytes replaced by U+FFFD
    status         VARCHAR NOT NULL,           -- ingested | refused
    reason         VARCHAR,
    ingested_at    TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
    file_id          INTEGER NOT NULL,
    org_id           VARCHAR NOT NULL,
    event_type       VARCHAR NOT NULL,
    ts               TIMESTAMP NOT NULL,
    request_id       VARCHAR,
    user_id          VARCHAR,
    user_name        VARCHAR,
    connected_app_id VARCHAR,
    connected_app_name VARCHAR,
    client_name      VARCHAR,
    client_ip        VARCHAR,
    source_ip        VARCHAR,
    api_family       VARCHAR,
    api_resource     VARCHAR,
    http_method      VARCHAR,
    entity_name      VARCHAR,
    status_code      INTEGER,
    rows_processed   BIGINT,
    user_agent       VARCHAR,
    is_error         BOOLEAN NOT NULL,
    content_key      VARCHAR,            -- md5 of the row, only when it has no request id (dedupe)
    attributes       JSON                -- every other column of the file, by its header name
);

CREATE TABLE IF NOT EXISTS rejects (
    file_id  INTEGER NOT NULL,
    line_no  BIGINT,
    reason   VARCHAR NOT NULL,
    raw      VARCHAR
);

-- One row per org x event type x hour x (app, user, ip, object, family, method, client):
-- every entity view (connected app, user, IP, object) is a GROUP BY over this small table.
CREATE TABLE IF NOT EXISTS hourly_activity (
    org_id           VARCHAR NOT NULL,
    event_type       VARCHAR NOT NULL,
    hour             TIMESTAMP NOT NULL,
    connected_app_id VARCHAR,
    connected_app_name VARCHAR,
    user_id          VARCHAR,            -- first 15 characters
    user_name        VARCHAR,
    client_name      VARCHAR,
    ip               VARCHAR,            -- SOURCE_IP when CLIENT_IP is 'Salesforce.com IP'
    entity_name      VARCHAR,
    api_family       VARCHAR,
    http_method      VARCHAR,
    calls            BIGINT NOT NULL,
    errors           BIGINT NOT NULL,
    auth_failures    BIGINT NOT NULL,
    rows_processed   BIGINT NOT NULL,
    first_ts         TIMESTAMP NOT NULL,
    last_ts          TIMESTAMP NOT NULL
);
