-- Alert deliveries: one row per finding and target, so a finding is sent once and a failed
-- delivery is retried on the next run.
CREATE TABLE IF NOT EXISTS notifications (
    finding_id  VARCHAR NOT NULL,
    target      VARCHAR NOT NULL,     -- kind:address, secrets redacted
    status      VARCHAR NOT NULL,     -- sent | failed
    attempts    INTEGER NOT NULL,
    last_error  VARCHAR,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (finding_id, target)
);
