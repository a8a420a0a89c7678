-- The enrichment of every address (empty until `workbench enrich` has run).
SELECT ip, kind, country_code, country, city, latitude, longitude, accuracy_km, asn, as_org,
       is_tor, is_vpn, is_proxy, is_hosting, network_labels, allowlists
  FROM ip_info;
