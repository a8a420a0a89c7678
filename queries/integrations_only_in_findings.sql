-- Per connected app, before $until: the addresses, hours of the day and objects that a starter
-- catalog must not declare, with the reason: seen only in high or critical findings (every call in
-- a finding's window or from an address it names) or from an anonymizer (Tor, VPN, proxy).
WITH flagged AS (
    SELECT left(f.entity_id, 15) AS app15, date_trunc('hour', f.window_start) AS first_hour, f.window_end,
           CAST(json_extract_string(f.evidence, '$.ips[*]') AS VARCHAR[]) AS ips
      FROM findings f LEFT JOIN triage t ON t.finding_id = f.id
     WHERE f.entity_type = 'connected_app' AND f.severity IN ('high', 'critical') AND NOT f.suppressed
       AND coalesce(t.status, 'new') NOT IN ('benign', 'false_positive')
), activity AS (
    SELECT a.org_id, a.connected_app_id, a.hour, a.ip, a.entity_name, a.calls,
           EXISTS (SELECT 1 FROM flagged f
                    WHERE f.app15 = left(a.connected_app_id, 15)
                      AND ((a.hour >= f.first_hour AND a.hour < f.window_end) OR list_contains(f.ips, a.ip)))
               AS in_finding,
           coalesce(i.is_tor, false) OR coalesce(i.is_vpn, false) OR coalesce(i.is_proxy, false) AS anonymizer,
           CASE WHEN i.is_tor THEN 'Tor' WHEN i.is_vpn THEN 'VPN' WHEN i.is_proxy THEN 'proxy' END AS anonymizer_kind
      FROM api_activity a LEFT JOIN ip_info i ON i.ip = a.ip
     WHERE a.connected_app_id IS NOT NULL AND a.hour < $until
)
SELECT org_id, connected_app_id, 'ip' AS kind, ip AS value,
       CASE WHEN bool_or(anonymizer) THEN 'from an anonymizer (' || any_value(anonymizer_kind) || ')'
            ELSE 'seen only in high or critical findings' END AS reason
  FROM activity WHERE ip IS NOT NULL
 GROUP BY org_id, connected_app_id, ip
HAVING bool_or(anonymizer) OR bool_and(in_finding)
UNION ALL
SELECT org_id, connected_app_id, 'hour', CAST(hour(hour) AS VARCHAR), 'seen only in high or critical findings'
  FROM activity
 GROUP BY org_id, connected_app_id, hour(hour)
HAVING bool_and(in_finding OR anonymizer)
UNION ALL
SELECT org_id, connected_app_id, 'object', entity_name, 'seen only in high or critical findings'
  FROM activity WHERE entity_name IS NOT NULL
 GROUP BY org_id, connected_app_id, entity_name
HAVING bool_and(in_finding OR anonymizer)
ORDER BY 1, 2, 3, 4;
