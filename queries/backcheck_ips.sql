-- Back-check: addresses the scope used in the window, with enrichment and whether each is new
-- compared with the scope's history before the window.
SELECT h.ip, CAST(sum(h.calls) AS BIGINT) AS events, min(h.first_ts) AS first_seen, max(h.last_ts) AS last_seen,
       list(DISTINCT h.event_type ORDER BY h.event_type) AS event_types,
       NOT EXISTS (SELECT 1 FROM hourly_activity p
                    WHERE p.ip = h.ip AND p.hour < $start AND in_scope(p.connected_app_id, p.user_id, p.ip)) AS new,
       any_value(i.kind) AS kind, any_value(i.country_code) AS country, any_value(i.city) AS city,
       any_value(i.asn) AS asn, any_value(i.as_org) AS as_org, any_value(i.is_tor) AS tor,
       any_value(i.is_vpn) AS vpn, any_value(i.is_proxy) AS proxy, any_value(i.is_hosting) AS hosting
  FROM hourly_activity h LEFT JOIN ip_info i ON i.ip = h.ip
 WHERE in_scope(h.connected_app_id, h.user_id, h.ip) AND h.hour >= $start AND h.hour < $end AND h.ip IS NOT NULL
 GROUP BY h.ip
 ORDER BY new DESC, events DESC;
