-- Back-check: errors and authentication failures of the scope in the window, by status.
SELECT event_type,
       coalesce(CAST(status_code AS VARCHAR), json_extract_string(attributes, '$.LOGIN_STATUS'),
                json_extract_string(attributes, '$.REQUEST_STATUS'), 'error') AS status,
       status_code IN (401, 403) OR event_type = 'Login' AS auth_failure,
       count(*) AS events
  FROM events
 WHERE is_error AND in_scope(connected_app_id, left(user_id, 15), effective_ip(client_ip, source_ip))
   AND ts >= $start AND ts < $end
 GROUP BY ALL
 ORDER BY events DESC;
