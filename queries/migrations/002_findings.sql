-- Findings from `scan`, their triage, and scoped suppressions.
CREATE TABLE IF NOT EXISTS findings (
    id            VARCHAR PRIMARY KEY,   -- stable: detector + org + entity + window
    detector      VARCHAR NOT NULL,
    category      VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL,
    score         INTEGER NOT NULL,
    org_id        VARCHAR,
    entity_type   VARCHAR NOT NULL,
    entity_id     VARCHAR NOT NULL,
    entity_label  VARCHAR,
    window_start  TIMESTAMP NOT NULL,
    window_end    TIMESTAMP NOT NULL,
    observed      DOUBLE,
    baseline      DOUBLE,
    explanation   VARCHAR NOT NULL,
    evidence      JSON,
    suppressed    BOOLEAN NOT NULL DEFAULT false,
    first_found   TIMESTAMP NOT NULL,
    last_found    TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS triage (
    finding_id  VARCHAR PRIMARY KEY,
    status      VARCHAR NOT NULL,      -- new | confirmed | benign | false_positive
    note        VARCHAR,
    updated_by  VARCHAR,
    updated_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS suppression_id_seq START 1;
CREATE TABLE IF NOT EXISTS suppressions (
    id          INTEGER PRIMARY KEY,
    detector    VARCHAR NOT NULL,
    entity_id   VARCHAR NOT NULL,      -- one entity: an app, user or IP id, never "everything"
    until       TIMESTAMP,             -- NULL: until removed
    reason      VARCHAR,
    created_by  VARCHAR,
    created_at  TIMESTAMP NOT NULL
);
