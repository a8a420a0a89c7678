-- Fetching from Salesforce: the incremental cursor per org, and every EventLogFile fetched.
CREATE TABLE IF NOT EXISTS sync_state (
    org_key        VARCHAR PRIMARY KEY,   -- the profile's org id, or its name
    cursor_created VARCHAR,               -- CreatedDate of the last file fetched (as Salesforce wrote it)
    cursor_id      VARCHAR,               -- its Id: ties on CreatedDate break on Id
    updated_at     TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS fetched_files (
    org_key      VARCHAR NOT NULL,
    log_file_id  VARCHAR NOT NULL,
    event_type   VARCHAR NOT NULL,
    log_date     VARCHAR NOT NULL,
    interval     VARCHAR NOT NULL,
    sequence     INTEGER NOT NULL,
    created_date VARCHAR NOT NULL,
    length       BIGINT,
    archive_path VARCHAR NOT NULL,
    PRIMARY KEY (org_key, log_file_id)
);
