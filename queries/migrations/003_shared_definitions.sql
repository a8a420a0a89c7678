-- Definitions several queries share, so each rule is written once.

-- The address a call came from: OAuth token logins log CLIENT_IP as 'Salesforce.com IP' and the
-- real origin in SOURCE_IP.
CREATE OR REPLACE MACRO effective_ip(client_ip, source_ip) AS
    CASE WHEN client_ip = 'Salesforce.com IP' AND coalesce(source_ip, '') <> '' THEN source_ip
         ELSE coalesce(client_ip, source_ip) END;

-- Which event types count as an org's API activity: ApiTotalUsage where the org has it, else
-- the per-API logs, so that no call is counted twice.
CREATE OR REPLACE VIEW api_event_types AS
WITH orgs AS (
    SELECT org_id, bool_or(event_type = 'ApiTotalUsage') AS has_total_usage
      FROM hourly_activity GROUP BY org_id
)
SELECT o.org_id, t.event_type
  FROM orgs o, (VALUES ('ApiTotalUsage'), ('RestApi'), ('ApexRestApi'), ('API'), ('BulkApiRequest')) t(event_type)
 WHERE (o.has_total_usage AND t.event_type = 'ApiTotalUsage')
    OR (NOT o.has_total_usage AND t.event_type <> 'ApiTotalUsage');

CREATE OR REPLACE VIEW api_activity AS
SELECT h.* FROM hourly_activity h JOIN api_event_types USING (org_id, event_type);
