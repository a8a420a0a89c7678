-- Authentication failures (failed logins, 401/403 API calls) and the logins that succeeded
-- from the same addresses or users: the raw rows probe_then_success needs. Logins come from the
-- Login event logs, or from LoginHistory for the orgs that have none (login_history_logins).
WITH logins AS (
    SELECT org_id, ts, left(user_id, 15) AS user15, user_name, ip, request_id, event_type, is_error AS failed
      FROM signal_events
     WHERE event_type = 'Login'
    UNION ALL
    SELECT org_id, ts, left(user_id, 15), user_name, ip, request_id, 'LoginHistory', is_failure
      FROM login_history_logins
), failures AS (
    SELECT org_id, ts, left(user_id, 15) AS user15, user_name, ip, request_id, event_type
      FROM signal_events
     WHERE is_error AND event_type <> 'Login' AND status_code IN (401, 403)
    UNION ALL
    SELECT org_id, ts, user15, user_name, ip, request_id, event_type FROM logins WHERE failed
), successes AS (
    SELECT org_id, ts, user15, user_name, ip, request_id, event_type FROM logins WHERE NOT failed
)
SELECT *, false AS success FROM failures
UNION ALL
SELECT s.*, true AS success FROM successes s
 WHERE EXISTS (SELECT 1 FROM failures f WHERE f.org_id = s.org_id AND (f.ip = s.ip OR f.user15 = s.user15));
