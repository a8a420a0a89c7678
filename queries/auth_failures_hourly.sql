-- Authentication failures per org x hour x user x IP, across every event type (sums as BIGINT:
-- see api_activity_hourly).
SELECT org_id, hour, user_id, any_value(user_name) AS user_name, ip,
       sum(auth_failures)::BIGINT AS failures, sum(calls)::BIGINT AS calls
  FROM hourly_activity
 GROUP BY ALL;
