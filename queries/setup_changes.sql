-- Setup audit trail rows and connected apps' creation, as one list of changes: when, who, what.
SELECT org_id, created_date AS changed_at, created_by, coalesce(section, '') AS section,
       coalesce(display, action, '') AS change, 'setup' AS kind, NULL AS app_id
  FROM setup_audit_trail
UNION ALL
SELECT DISTINCT org_id, created_date, NULL, 'Connected Apps', 'connected app created: ' || name, 'new_app',
       left(app_id, 15)
  FROM connected_apps WHERE created_date IS NOT NULL
ORDER BY changed_at;
