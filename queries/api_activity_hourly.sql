-- API activity per hour x app x user x IP x object: ApiTotalUsage where an org has it, else the
-- per-API logs (RestApi, ApexRestApi, API, BulkApiRequest), so no call is counted twice.
WITH preferred AS (
    SELECT org_id, bool_or(event_type = 'ApiTotalUsage') AS has_total_usage
      FROM hourly_activity GROUP BY org_id
)
SELECT h.* EXCLUDE (event_type)
  FROM hourly_activity h JOIN preferred p USING (org_id)
 WHERE (p.has_total_usage AND h.event_type = 'ApiTotalUsage')
    OR (NOT p.has_total_usage AND h.event_type IN ('RestApi', 'ApexRestApi', 'API', 'BulkApiRequest'));
