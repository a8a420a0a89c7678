-- The org's side of the story: OAuth tokens and connected apps (snapshots, kept per snapshot
-- time so "before" and "after" can be compared), the setup audit trail and login history
-- (deduped on their Id, else a content hash), and the incremental cursor of `fetch --org-context`.
-- Token values (AccessToken, RequestToken, DeleteToken) are never stored: there is no column.
CREATE SEQUENCE IF NOT EXISTS org_snapshot_id_seq START 1;

CREATE TABLE IF NOT EXISTS org_snapshots (
    snapshot_id  BIGINT PRIMARY KEY,
    org_id       VARCHAR,                -- NULL when neither the file nor the store says
    object       VARCHAR NOT NULL,       -- OauthToken | ConnectedApplication
    taken_at     TIMESTAMP NOT NULL,     -- UTC: the fetch time, or the file's time / --as-of
    source       VARCHAR NOT NULL,       -- the file, or fetch:<profile>
    content_hash VARCHAR,
    rows         BIGINT NOT NULL,
    loaded_at    TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS oauth_tokens (
    snapshot_id      BIGINT NOT NULL,
    org_id           VARCHAR,
    token_id         VARCHAR,
    app_name         VARCHAR,
    app_menu_item_id VARCHAR,
    user_id          VARCHAR,
    user_name        VARCHAR,
    user_profile     VARCHAR,
    created_date     TIMESTAMP,
    last_used_date   TIMESTAMP,
    use_count        BIGINT
);

CREATE TABLE IF NOT EXISTS connected_apps (
    snapshot_id                 BIGINT NOT NULL,
    org_id                      VARCHAR,
    app_id                      VARCHAR,
    name                        VARCHAR,
    admin_approved_only         BOOLEAN,
    refresh_token_policy        VARCHAR,  -- as exported: a period, a metadata policy name, or ''
    refresh_valid_until_revoked BOOLEAN,  -- NULL: the export does not say
    ip_relaxation               VARCHAR,
    session_timeout             VARCHAR,
    created_date                TIMESTAMP,
    last_modified_date          TIMESTAMP
);

CREATE TABLE IF NOT EXISTS setup_audit_trail (
    record_key       VARCHAR PRIMARY KEY,  -- the Id, else a hash of the row's content
    org_id           VARCHAR,
    record_id        VARCHAR,
    created_date     TIMESTAMP NOT NULL,
    created_by       VARCHAR,
    action           VARCHAR,
    section          VARCHAR,
    display          VARCHAR,
    delegate_user    VARCHAR,
    namespace_prefix VARCHAR,
    source           VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS login_history (
    record_key  VARCHAR PRIMARY KEY,       -- the Id, else a hash of the row's content
    org_id      VARCHAR,
    record_id   VARCHAR,
    login_time  TIMESTAMP NOT NULL,
    user_id     VARCHAR,
    user_name   VARCHAR,
    application VARCHAR,
    source_ip   VARCHAR,
    country_iso VARCHAR,
    login_type  VARCHAR,
    api_type    VARCHAR,
    api_version VARCHAR,
    status      VARCHAR,
    browser     VARCHAR,
    platform    VARCHAR,
    login_url   VARCHAR,
    source      VARCHAR NOT NULL
);

-- Every org-context file loaded (by content), so the same export ingested twice is skipped.
CREATE TABLE IF NOT EXISTS org_context_files (
    content_hash VARCHAR PRIMARY KEY,
    path         VARCHAR NOT NULL,
    object       VARCHAR NOT NULL,
    rows_read    BIGINT NOT NULL,
    rows_added   BIGINT NOT NULL,
    loaded_at    TIMESTAMP NOT NULL
);

-- The cursor of `fetch --org-context` per org and object (LoginHistory: LoginTime, Id;
-- SetupAuditTrail: CreatedDate, Id).
CREATE TABLE IF NOT EXISTS org_context_cursor (
    org_key        VARCHAR NOT NULL,
    object         VARCHAR NOT NULL,
    cursor_created VARCHAR NOT NULL,
    cursor_id      VARCHAR NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (org_key, object)
);
