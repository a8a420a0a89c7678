-- Authentication failures per org x hour x user x IP, across every event type.
SELECT org_id, hour, user_id, any_value(user_name) AS user_name, ip,
       sum(auth_failures) AS failures, sum(calls) AS calls
  FROM hourly_activity
 GROUP BY ALL;
