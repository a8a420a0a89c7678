-- What is known about each address: geography, network, anonymizer flags, allowlists.
CREATE TABLE IF NOT EXISTS ip_info (
    ip               VARCHAR PRIMARY KEY,
    kind             VARCHAR NOT NULL,   -- public | private | loopback | documentation | salesforce | link_local | reserved | invalid
    country_code     VARCHAR,
    country          VARCHAR,
    city             VARCHAR,
    latitude         DOUBLE,
    longitude        DOUBLE,
    accuracy_km      INTEGER,
    asn              BIGINT,
    as_org           VARCHAR,
    is_tor           BOOLEAN NOT NULL DEFAULT false,
    is_vpn           BOOLEAN NOT NULL DEFAULT false,
    is_proxy         BOOLEAN NOT NULL DEFAULT false,
    is_hosting       BOOLEAN NOT NULL DEFAULT false,
    network_labels   VARCHAR[],          -- labels from the user's VPN/proxy/hosting list
    allowlists       VARCHAR[],          -- enterprise egress ranges it falls in
    sources          VARCHAR NOT NULL,   -- fingerprint of the sources it was looked up with
    enriched_at      TIMESTAMP NOT NULL
);

-- The sources the current ip_info rows were built from (files and their build dates).
CREATE TABLE IF NOT EXISTS enrich_sources (
    slot          VARCHAR PRIMARY KEY,   -- city | asn | anon | tor_exits | networks | egress
    path          VARCHAR NOT NULL,
    description   VARCHAR,               -- database type, or what the list held
    built         TIMESTAMP,             -- the database's build date, or the file's mtime
    entries       BIGINT,
    skipped_lines VARCHAR                -- malformed lines, with their numbers
);
