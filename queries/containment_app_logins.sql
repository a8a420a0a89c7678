-- LoginHistory rows of the applications named $names (lower case) in the orgs $orgs (15-character
-- ids; empty: every org; a row without an org counts for any): when, from where, who, outcome.
SELECT login_time, source_ip, user_name, user_id, status
  FROM login_history
 WHERE list_contains($names, lower(trim(application)))
   AND (len($orgs) = 0 OR org_id IS NULL OR list_contains($orgs, left(org_id, 15)))
 ORDER BY login_time;
