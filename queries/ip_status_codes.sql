-- Status codes (and login outcomes) of the calls from one address ($ip).
SELECT event_type, coalesce(CAST(status_code AS VARCHAR), json_extract_string(attributes, '$.LOGIN_STATUS')) AS status,
       count(*) AS events
  FROM events
 WHERE effective_ip(client_ip, source_ip) = $ip
 GROUP BY ALL
 ORDER BY events DESC;
