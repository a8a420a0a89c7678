-- Every name a connected app (15-character id) goes by, lower case: from connected apps and the logs.
SELECT DISTINCT left(app_id, 15) AS app_id, lower(trim(name)) AS name
  FROM connected_apps WHERE app_id IS NOT NULL AND name IS NOT NULL AND trim(name) <> ''
UNION
SELECT DISTINCT left(connected_app_id, 15), lower(trim(connected_app_name))
  FROM hourly_activity
 WHERE connected_app_id IS NOT NULL AND connected_app_name IS NOT NULL AND trim(connected_app_name) <> '';
