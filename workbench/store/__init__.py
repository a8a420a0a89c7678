"""The store: DuckDB catalog and Parquet partitions, the ingest contract (`inputs`), ingest,
aggregates, findings and the named queries. It imports nothing above it: no source, no detector."""
