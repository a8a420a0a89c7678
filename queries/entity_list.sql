-- Connected apps and users with API activity, busiest first: what the timeline can show.
SELECT coalesce(connected_app_id, user_id) AS entity_id,
       CASE WHEN any_value(connected_app_id) IS NOT NULL THEN 'connected_app' ELSE 'user' END AS entity_type,
       coalesce(any_value(connected_app_name), any_value(client_name), any_value(user_name),
                coalesce(connected_app_id, user_id)) AS label,
       org_id, CAST(sum(calls) AS BIGINT) AS calls, min(first_ts) AS first_seen, max(last_ts) AS last_seen
  FROM api_activity
 WHERE coalesce(connected_app_id, user_id) IS NOT NULL
 GROUP BY coalesce(connected_app_id, user_id), org_id
 ORDER BY calls DESC;
