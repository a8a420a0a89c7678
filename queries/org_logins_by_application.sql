-- LoginHistory per application: logins, failures, users, addresses, first and last login.
SELECT application,
       count(*) AS logins,
       count(*) FILTER (WHERE status <> 'Success') AS failures,
       count(DISTINCT user_id) AS users,
       list(DISTINCT source_ip ORDER BY source_ip) FILTER (WHERE source_ip IS NOT NULL) AS ips,
       min(login_time) AS first_login,
       max(login_time) AS last_login
  FROM login_history
 WHERE application IS NOT NULL AND application <> ''
 GROUP BY application
 ORDER BY application;
