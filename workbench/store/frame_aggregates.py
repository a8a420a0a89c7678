"""The rows refresh_hourly_activity.sql inserts, computed from events still in memory.

When ingest adds events to hours of an org and event type that held none before, those events
are all the aggregates are made of: grouping them in Polars costs a fraction of reading them back
from the Parquet files just written. These expressions follow the SQL line by line
(effective_ip, left(user_id, 15), the FILTERs, the clamped sum, min_by of three); which rows are
signal events is still decided by the store's own `is_signal_event` macro, so that rule stays
written once. tests/store/test_ingest_paths.py holds the two ways to the same rows.
"""

from __future__ import annotations

import duckdb
import polars as pl

_BIGINT = (-(2**63), 2**63 - 1)


def _effective_ip() -> pl.Expr:
    """The effective_ip macro: SOURCE_IP when CLIENT_IP is 'Salesforce.com IP' and it has one."""
    client, source = pl.col("client_ip"), pl.col("source_ip")
    return (
        pl.when((client == "Salesforce.com IP") & (source.fill_null("") != ""))
        .then(source)
        .otherwise(pl.coalesce(client, source))
    )


def aggregates(con: duckdb.DuckDBPyConnection, events: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The rows of each aggregate table for EVENTS: the grouping keys hourly_activity and
    client_hourly share are computed once, and the two groupings run side by side."""
    keyed = _with_keys(events).collect()
    hourly, clients = pl.collect_all([_hourly_activity(keyed), _client_hourly(keyed)])
    return {"hourly_activity": hourly, "signal_events": _signal_events(con, events), "client_hourly": clients}


def _with_keys(events: pl.DataFrame) -> pl.LazyFrame:
    """EVENTS with the grouping keys both aggregates share: the hour, the user id's first 15
    characters, the effective address."""
    return events.lazy().with_columns(
        pl.col("ts").dt.truncate("1h").alias("hour"),
        pl.col("user_id").str.head(15),
        _effective_ip().alias("ip"),
    )


def _hourly_activity(keyed: pl.DataFrame) -> pl.LazyFrame:
    """hourly_activity's rows (in the table's column order) for events with their grouping keys
    (`_with_keys`)."""
    total = pl.col("rows_processed").cast(pl.Int128).sum().clip(*_BIGINT).cast(pl.Int64)
    auth_failure = pl.col("status_code").is_in([401, 403]).fill_null(False) | (
        (pl.col("event_type") == "Login") & pl.col("is_error")
    )
    return (
        keyed.lazy()
        .group_by(
            "org_id",
            "event_type",
            "hour",
            "connected_app_id",
            "user_id",
            "client_name",
            "ip",
            "entity_name",
            "api_family",
            "http_method",
        )
        .agg(
            pl.col("connected_app_name").first(ignore_nulls=True),
            pl.col("user_name").first(ignore_nulls=True),
            pl.len().cast(pl.Int64).alias("calls"),
            pl.col("is_error").sum().cast(pl.Int64).alias("errors"),
            auth_failure.sum().cast(pl.Int64).alias("auth_failures"),
            total.alias("rows_processed"),
            pl.col("ts").min().alias("first_ts"),
            pl.col("ts").max().alias("last_ts"),
        )
        .select(
            "org_id",
            "event_type",
            "hour",
            "connected_app_id",
            "connected_app_name",
            "user_id",
            "user_name",
            "client_name",
            "ip",
            "entity_name",
            "api_family",
            "http_method",
            "calls",
            "errors",
            "auth_failures",
            "rows_processed",
            "first_ts",
            "last_ts",
        )
    )


def _client_hourly(keyed: pl.DataFrame) -> pl.LazyFrame:
    """client_hourly's rows (in the table's column order) for events with their grouping keys
    (`_with_keys`)."""
    return (
        keyed.lazy()
        .filter(pl.col("user_agent").is_not_null() | pl.col("client_name").is_not_null())
        .group_by(
            "org_id",
            "event_type",
            "hour",
            "connected_app_id",
            "user_id",
            "ip",
            "user_agent",
            "client_name",
        )
        .agg(
            pl.col("user_name").first(ignore_nulls=True),
            pl.len().cast(pl.Int64).alias("events"),
            pl.col("ts").min().alias("first_ts"),
            pl.col("ts").max().alias("last_ts"),
            # min_by(request_id, row(ts, request_id), 3): the first three in time order.
            pl.col("request_id").sort_by("ts", "request_id").head(3).alias("request_ids"),
        )
        .select(
            "org_id",
            "event_type",
            "hour",
            "connected_app_id",
            "user_id",
            "user_name",
            "ip",
            "user_agent",
            "client_name",
            "events",
            "first_ts",
            "last_ts",
            "request_ids",
        )
    )


def _signal_events(con: duckdb.DuckDBPyConnection, events: pl.DataFrame) -> pl.DataFrame:
    """signal_events' rows for EVENTS (in the table's column order). The store's is_signal_event
    picks them: it is asked once per distinct combination of the five columns it reads (a few
    thousand, where events are millions)."""
    tested = ["event_type", "api_family", "api_resource", "status_code", "rows_processed"]
    combinations = events.select(tested).unique()
    con.register("signal_candidates", combinations.to_arrow(compat_level=pl.CompatLevel.newest()))
    try:
        signal = con.sql(
            """SELECT * FROM signal_candidates
                WHERE is_signal_event(event_type, api_family, api_resource, status_code, rows_processed)"""
        ).pl()
    finally:
        con.unregister("signal_candidates")
    picked = events.join(signal.cast(combinations.schema), on=tested, how="semi", nulls_equal=True)  # type: ignore[arg-type]
    attribute = pl.col("attributes").str.json_path_match
    return picked.select(
        "org_id",
        "event_type",
        "ts",
        "request_id",
        "connected_app_id",
        "user_id",
        "user_name",
        "api_resource",
        "api_family",
        "http_method",
        "entity_name",
        "status_code",
        "rows_processed",
        "is_error",
        _effective_ip().alias("ip"),
        attribute("$.OPERATION_TYPE").alias("operation_type"),
        attribute("$.JOB_ID").alias("job_id"),
    )
