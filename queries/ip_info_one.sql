-- The enrichment of one address ($ip), with the date its sources were built.
SELECT i.*, true AS enriched FROM ip_info i WHERE i.ip = $ip;
