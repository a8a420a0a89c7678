-- Raw events move out of DuckDB into hive-partitioned Parquet beside the store file:
-- <db>-events/org=<org>/event_type=<type>/day=<YYYY-MM-DD>/<batch>.parquet (zstd). DuckDB stays
-- the one entry point: after this migration workbench.store.partitions moves the rows of the old
-- `events` table out and replaces the table with a view over the partitions of the same name and
-- columns. This table is the catalog of the Parquet files: a file that no row names is not part of
-- the store (a crash between writing and committing leaves one; the next open removes it).
CREATE TABLE IF NOT EXISTS event_files (
    path        VARCHAR PRIMARY KEY,   -- relative to the events folder
    org_id      VARCHAR NOT NULL,
    event_type  VARCHAR NOT NULL,
    day         DATE NOT NULL,
    rows        BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    written_at  TIMESTAMP NOT NULL
);
