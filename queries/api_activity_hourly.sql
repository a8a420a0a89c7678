-- API activity per hour x app x user x IP x object (one event type per org, see api_event_types),
-- with how many of the calls were writes and bulk calls: the grain every detector reads. Families,
-- methods and client names are folded in here, which makes the frame a third of the aggregate.
-- Sums are cast to BIGINT: DuckDB sums integers as HUGEINT, which reaches Polars as Decimal(38, 0)
-- and costs the scan a conversion and a cast (normalise_types) on every load.
SELECT org_id, hour, connected_app_id, any_value(connected_app_name) AS connected_app_name, user_id,
       any_value(user_name) AS user_name, any_value(client_name) AS client_name, ip, entity_name,
       sum(calls)::BIGINT AS calls,
       sum(errors)::BIGINT AS errors,
       sum(auth_failures)::BIGINT AS auth_failures,
       sum(rows_processed)::BIGINT AS rows_processed,
       coalesce(sum(calls) FILTER (WHERE http_method IN ('POST', 'PATCH', 'PUT', 'DELETE')), 0)::BIGINT AS writes,
       coalesce(sum(calls) FILTER (WHERE api_family = 'Bulk'), 0)::BIGINT AS bulk_calls,
       min(first_ts) AS first_ts,
       max(last_ts) AS last_ts
  FROM api_activity
 GROUP BY org_id, hour, connected_app_id, user_id, ip, entity_name;
