-- Back-check: the orgs the scope was active in during the window.
SELECT DISTINCT org_id FROM hourly_activity
 WHERE in_scope(connected_app_id, user_id, ip) AND hour >= $start AND hour < $end;
