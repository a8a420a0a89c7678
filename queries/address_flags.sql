-- What enrichment says about some addresses ($ips): Tor exit, VPN, proxy or hosting network.
SELECT ip, is_tor, is_vpn, is_proxy, is_hosting
  FROM ip_info
 WHERE list_contains($ips, ip) AND (is_tor OR is_vpn OR is_proxy OR is_hosting)
 ORDER BY ip;
