-- LoginHistory rows of the applications named $names (lower case): when, from where, who, outcome.
SELECT login_time, source_ip, user_name, user_id, status
  FROM login_history
 WHERE list_contains($names, lower(trim(application)))
 ORDER BY login_time;
