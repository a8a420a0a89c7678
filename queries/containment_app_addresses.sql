-- The addresses a set of connected apps (15-character ids) was seen from, before and from $since,
-- in the orgs $orgs (15-character ids; empty: every org).
SELECT ip,
       hour >= date_trunc('hour', $since) AND last_ts >= $since AS after,
       sum(calls) AS calls,
       min(first_ts) AS first_ts,
       max(last_ts) AS last_ts,
       list(DISTINCT event_type ORDER BY event_type) AS event_types
  FROM hourly_activity
 WHERE list_contains($app_ids, left(connected_app_id, 15)) AND ip IS NOT NULL
   AND (len($orgs) = 0 OR list_contains($orgs, left(org_id, 15)))
 GROUP BY ALL
 ORDER BY ip, after;
