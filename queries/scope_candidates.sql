-- What a scope may name: every connected app (id, name), user (id, name) and address in the store.
SELECT 'app' AS kind, left(connected_app_id, 15) AS id, any_value(connected_app_name) AS name, any_value(org_id) AS org_id
  FROM hourly_activity WHERE connected_app_id IS NOT NULL GROUP BY 2
UNION ALL
SELECT 'user', left(user_id, 15), any_value(user_name), any_value(org_id)
  FROM hourly_activity WHERE user_id IS NOT NULL GROUP BY 2
UNION ALL
SELECT 'ip', ip, NULL, NULL FROM hourly_activity WHERE ip IS NOT NULL GROUP BY 2;
