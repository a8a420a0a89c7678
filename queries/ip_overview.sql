-- Every address with its enrichment, first/last seen, events and the apps or users behind it.
SELECT h.ip, i.country_code AS country, i.city, i.asn, i.as_org, i.is_tor, i.is_vpn, i.is_proxy, i.is_hosting,
       min(h.first_ts) AS first_seen, max(h.last_ts) AS last_seen, CAST(sum(h.calls) AS BIGINT) AS events,
       list(DISTINCT coalesce(h.connected_app_name, h.user_name, h.connected_app_id, h.user_id)) AS entities
  FROM hourly_activity h LEFT JOIN ip_info i ON i.ip = h.ip
 WHERE h.ip IS NOT NULL
 GROUP BY h.ip, i.country_code, i.city, i.asn, i.as_org, i.is_tor, i.is_vpn, i.is_proxy, i.is_hosting
 ORDER BY (coalesce(i.is_tor, false) OR coalesce(i.is_vpn, false) OR coalesce(i.is_proxy, false)) DESC, events DESC;
