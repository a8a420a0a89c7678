-- The orgs the store holds events for (org-context rows take the only one when no --org is given).
SELECT DISTINCT org_id FROM hourly_activity WHERE org_id IS NOT NULL ORDER BY org_id;
