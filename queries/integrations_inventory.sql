-- Connected apps seen in the API activity before $until: who, when, how much, which objects and addresses.
WITH activity AS (
    SELECT * FROM api_activity WHERE connected_app_id IS NOT NULL AND hour < $until
), daily AS (
    SELECT org_id, connected_app_id, CAST(hour AS DATE) AS day, sum(calls) AS calls
      FROM activity GROUP BY ALL
), hours AS (
    SELECT org_id, connected_app_id, hour(hour) AS hour_of_day, sum(calls) AS calls
      FROM activity GROUP BY ALL
)
SELECT a.org_id,
       a.connected_app_id,
       coalesce(any_value(a.connected_app_name), any_value(a.client_name), any_value(a.user_name)) AS name,
       list(DISTINCT a.user_name ORDER BY a.user_name) FILTER (WHERE a.user_name IS NOT NULL) AS users,
       list(DISTINCT a.user_id ORDER BY a.user_id) FILTER (WHERE a.user_id IS NOT NULL) AS user_ids,
       list(DISTINCT a.client_name ORDER BY a.client_name) FILTER (WHERE a.client_name IS NOT NULL) AS clients,
       min(a.first_ts) AS first_seen,
       max(a.last_ts) AS last_seen,
       sum(a.calls) AS calls,
       count(DISTINCT CAST(a.hour AS DATE)) AS active_days,
       list(DISTINCT a.entity_name ORDER BY a.entity_name) FILTER (WHERE a.entity_name IS NOT NULL) AS objects,
       list(DISTINCT a.ip ORDER BY a.ip) FILTER (WHERE a.ip IS NOT NULL) AS ips,
       -- Creating, closing or deleting a bulk job is not a write of data (an ingest upload, PUT, is).
       coalesce(sum(a.calls) FILTER (WHERE a.http_method IN ('POST', 'PATCH', 'PUT', 'DELETE')
                AND NOT (a.api_family = 'Bulk' AND a.http_method <> 'PUT')), 0) / sum(a.calls) AS write_share,
       sum(a.errors) / sum(a.calls) AS error_rate,
       sum(a.calls) FILTER (WHERE a.api_family = 'Bulk') / sum(a.calls) AS bulk_share,
       (SELECT quantile_cont(d.calls, 0.9) FROM daily d
         WHERE d.org_id = a.org_id AND d.connected_app_id = a.connected_app_id) AS p90_daily_calls,
       (SELECT list(h.hour_of_day ORDER BY h.hour_of_day) FROM hours h
         WHERE h.org_id = a.org_id AND h.connected_app_id = a.connected_app_id) AS active_hours,
       list(DISTINCT isodow(a.hour) ORDER BY isodow(a.hour)) AS active_weekdays
  FROM activity a
 GROUP BY a.org_id, a.connected_app_id
 ORDER BY calls DESC;
